from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_doku_checkout.checks import SQLITE_OPTIONS_FIX, check_deployment, check_settings, find_sqlite_problems
from django_doku_checkout.conf import get_config

VALID = {"CLIENT_ID": "BRN-0214-1714016624673", "SECRET_KEY": "SK-live-abc", "ENVIRONMENT": "sandbox"}


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_valid_settings_give_no_messages(settings):
    settings.DOKU_CHECKOUT = VALID
    assert check_settings() == []


def test_missing_setting_is_e001(settings):
    del settings.DOKU_CHECKOUT
    assert ids(check_settings()) == ["django_doku_checkout.E001"]


def test_setting_of_wrong_type_is_e001(settings):
    settings.DOKU_CHECKOUT = ["CLIENT_ID"]
    [message] = check_settings()
    assert message.id == "django_doku_checkout.E001"
    assert "must be a dict, not list" in message.msg


@pytest.mark.parametrize(
    ("changes", "check_id", "fragment"),
    [
        ({"CLIENT_ID": ""}, "E002", "DOKU_CHECKOUT['CLIENT_ID'] must be a non-empty string, not ''"),
        ({"CLIENT_ID": None}, "E002", "not None"),
        ({"SECRET_KEY": "  "}, "E003", "DOKU_CHECKOUT['SECRET_KEY'] must be a non-empty string"),
        ({"SECRET_KEY": 42}, "E003", "SECRET_KEY"),
        ({"ENVIRONMENT": "prod"}, "E004", "'sandbox', 'production' or 'simulator', not 'prod'"),
        ({"API_BASE_URL": "api.doku.com"}, "E005", "not 'api.doku.com'"),
        ({"API_BASE_URL": "https://api.doku.com/?x=1"}, "E005", "no query string"),
        ({"TIMEOUT": 0}, "E006", "not 0"),
        ({"TIMEOUT": (5, -1)}, "E006", "(connect, read) pair"),
        ({"TIMEOUT": True}, "E006", "not True"),
        ({"SECERT_KEY": "x"}, "E007", "DOKU_CHECKOUT['SECERT_KEY'] is not a setting"),
        ({"SITE_URL": "shop.example.com"}, "E008", "not 'shop.example.com'"),
        ({"PAYMENT_DUE_DATE": 1_000_000}, "E009", "from 1 to 999999"),
        ({"PAYMENT_DUE_DATE": 1.5}, "E009", "not 1.5"),
        ({"MAX_RETRIES": -1}, "E010", "from 0 to 10"),
        ({"RETRY_BACKOFF": "1"}, "E011", "not '1'"),
        ({"PAYMENT_METHOD_TYPES": "VIRTUAL_ACCOUNT_BCA"}, "E012", "a list of DOKU channel codes"),
        ({"AUTO_REDIRECT": "yes"}, "E013", "True or False, not 'yes'"),
        ({"NOTIFICATION_PATH": "doku/notification/"}, "E014", "starting with '/'"),
        ({"NOTIFICATION_MAX_AGE": 10}, "E015", "from 60 to 2592000"),
        ({"NOTIFICATION_MAX_BYTES": 10}, "E016", "from 1024"),
        ({"PREVIOUS_SECRET_KEYS": "old"}, "E017", "list of non-empty strings"),
        ({"CONFIRM_WITH_STATUS_API": 1}, "E018", "True or False, not 1"),
        ({"STATUS_CHECK_INTERVAL": -5}, "E019", "from 0 to 3600"),
        ({"CARD_PAGE_THEME": {"background_colour": "#FFF"}}, "E020", "'background_colour'"),
        ({"CARD_PAGE_THEME": {"font_color": "red"}}, "E020", "hex colours"),
        ({"DEADLINE": 30}, "E021", "from 1 to 29, not 30"),
        ({"DEADLINE": "25"}, "E021", "not '25'"),
        ({"DELIVERY_MAX_ATTEMPTS": 0}, "E022", "from 1 to 100"),
        ({"DELIVERY_BACKOFF": 0.5}, "E023", "not 0.5"),
        ({"DELIVERY_LEASE": 30}, "E042", "from 60 to 86400, not 30"),
        ({"DELIVERY_LEASE": "300"}, "E042", "not '300'"),
        ({"CANCEL_AT_DOKU": "yes"}, "E030", "True or False, not 'yes'"),
        ({"SUB_ACCOUNT_ID": ""}, "E031", "sub account id"),
        ({"SUB_ACCOUNT_ID": 42}, "E031", "not 42"),
        ({"CHECKOUT_BODY_HOOK": "shop.doku.no_such_hook"}, "E032", "'shop.doku.no_such_hook'"),
        ({"CHECKOUT_BODY_HOOK": "django_doku_checkout.conf.DEFAULTS"}, "E032", "callable"),
        ({"PAY_BUTTON_MODE": "overlay"}, "E033", "'redirect' or 'popup', not 'overlay'"),
        ({"ORDER_URL": ""}, "E034", "a URL name or the dotted path"),
        ({"ORDER_URL": 42}, "E034", "not 42"),
        ({"FAILED_LINK_RETRY_AFTER": 601}, "E035", "from 0 to 600"),
        ({"REJECTED_NOTIFICATIONS_PER_HOUR": -1}, "E037", "from 0 to 100000"),
        ({"WAITING_PAGE_REFRESHES": -1}, "E036", "from 0 to 1000"),
        ({"HEALTH_TOKEN": "   "}, "E046", "a long random string"),
        ({"HEALTH_TOKEN": 42}, "E046", "HEALTH_TOKEN"),
        ({"HEALTH_PENDING_AGE": 10}, "E047", "from 60 to 2592000, not 10"),
        ({"HEALTH_RECONCILE_MAX_AGE": "3600"}, "E048", "not '3600'"),
        ({"HEALTH_REFUND_STUCK_AGE": 0}, "E049", "from 60 to 2592000, not 0"),
        ({"HEALTH_TOKEN": "short-token"}, "W012", "shorter than 32 characters"),
        ({"HEALTH_PENDING_AGE": 3000}, "W013", "a payment link's life (PAYMENT_DUE_DATE, 60 minutes)"),
        ({"PAYMENT_DUE_DATE": 24 * 60}, "W013", "HEALTH_PENDING_AGE'] (21600 seconds)"),
        ({"TIMEOUT": (5, 30)}, "W004", "one attempt 5 + 30 seconds, more than DOKU_CHECKOUT['DEADLINE'] (25)"),
    ],
)
def test_each_error_names_key_expectation_and_value(settings, changes, check_id, fragment):
    settings.DOKU_CHECKOUT = {**VALID, **changes}
    messages = check_settings()
    assert ids(messages) == [f"django_doku_checkout.{check_id}"]
    assert fragment in messages[0].msg
    assert messages[0].hint


def test_a_long_health_token_gives_no_message_and_never_appears_in_one(settings):
    settings.DOKU_CHECKOUT = {**VALID, "HEALTH_TOKEN": "x" * 32}
    assert check_settings() == []
    settings.DOKU_CHECKOUT = {**VALID, "HEALTH_TOKEN": "short-secret"}
    [message] = check_settings()
    assert "short-secret" not in f"{message.msg} {message.hint}"


def test_an_empty_health_token_is_off_and_no_problem(settings):
    # What os.environ.get gives for a DOKU_HEALTH_TOKEN= line in the shop's environment file.
    settings.DOKU_CHECKOUT = {**VALID, "HEALTH_TOKEN": ""}
    assert check_settings() == []
    assert get_config().health_token is None


def test_unknown_key_suggests_the_close_one(settings):
    settings.DOKU_CHECKOUT = {**VALID, "SECRETKEY": "x"}
    [message] = check_settings()
    assert message.hint == "Did you mean 'SECRET_KEY'?"


def test_secret_value_never_appears_in_messages(settings):
    settings.DOKU_CHECKOUT = {**VALID, "SECRET_KEY": 12345678, "ENVIRONMENT": "nope"}
    text = " ".join(f"{m.msg} {m.hint}" for m in check_settings())
    assert "12345678" not in text


@pytest.mark.parametrize("client_id", ["MCH-0001-10791114622547", "BRN-SANDBOX-1", "test-merchant"])
def test_production_with_sandbox_looking_client_id_is_w001(settings, client_id):
    settings.DEBUG = False
    settings.DOKU_CHECKOUT = {**VALID, "CLIENT_ID": client_id, "ENVIRONMENT": "production"}
    assert ids(check_settings()) == ["django_doku_checkout.W001"]


def test_production_with_debug_is_w002(settings):
    settings.DEBUG = True
    settings.DOKU_CHECKOUT = {**VALID, "ENVIRONMENT": "production"}
    assert ids(check_settings()) == ["django_doku_checkout.W002"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"ENVIRONMENT": "sandbox"}, ["django_doku_checkout.W003"]),
        ({"ENVIRONMENT": "simulator"}, ["django_doku_checkout.E027"]),
        ({"ENVIRONMENT": "production", "SECRET_KEY": "simulator-secret"}, ["django_doku_checkout.E028"]),
        (
            {"ENVIRONMENT": "simulator", "SECRET_KEY": "simulator-secret-for-tests"},
            ["django_doku_checkout.E027", "django_doku_checkout.E028"],
        ),
    ],
)
def test_deploy_check_refuses_free_payments_and_warns_about_the_sandbox(settings, changes, expected):
    settings.DEBUG = False
    settings.DOKU_CHECKOUT = {**VALID, **changes}
    messages = check_deployment()
    assert ids(messages) == expected
    assert all(m.is_serious() == m.id.split(".")[1].startswith("E") for m in messages)
    settings.DEBUG = True  # --deploy means "about to deploy", whatever DEBUG says
    assert ids(check_deployment()) == expected


def test_deploy_check_is_quiet_for_production(settings):
    settings.DEBUG = False
    settings.DOKU_CHECKOUT = {**VALID, "ENVIRONMENT": "production"}
    assert check_deployment() == []


def test_checks_are_registered_with_django(settings, db):  # Django 6.1 model checks ask SQLite about JSON
    settings.DOKU_CHECKOUT = {**VALID, "ENVIRONMENT": "prod"}
    with pytest.raises(SystemCheckError, match="django_doku_checkout.E004"):
        call_command("check", "--database", "default")  # Django 6.1's model checks ask each database named


def test_deploy_check_is_registered_for_check_deploy(settings):
    settings.DEBUG = False
    settings.DOKU_CHECKOUT = VALID
    with pytest.raises(SystemCheckError, match="django_doku_checkout.W003"):
        call_command("check", "--deploy", "--fail-level", "WARNING", "--tag", "security")


STARTPROJECT_SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (
            None,
            "DATABASES['default'] uses SQLite without OPTIONS['transaction_mode'] = 'IMMEDIATE' "
            "and without OPTIONS['timeout']: ",
        ),
        ({"timeout": 20}, "without OPTIONS['transaction_mode'] = 'IMMEDIATE': "),
        ({"transaction_mode": "IMMEDIATE"}, "SQLite without OPTIONS['timeout']: "),
        ({"transaction_mode": "DEFERRED", "timeout": 20}, "'IMMEDIATE' (it is 'DEFERRED'): "),
        ({"init_command": "PRAGMA journal_mode=WAL;"}, "'IMMEDIATE' and without OPTIONS['timeout']"),
    ],
)
def test_sqlite_without_immediate_transactions_or_timeout_is_w004(options, fragment):
    database = {**STARTPROJECT_SQLITE, **({"OPTIONS": options} if options is not None else {})}
    [message] = find_sqlite_problems({"default": database})
    assert message.id == "django_doku_checkout.W005"
    assert fragment in message.msg
    assert "database is locked" in message.msg
    hint = message.hint or ""
    assert '"OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20}' in hint
    assert "Django 5.1+" in hint


@pytest.mark.parametrize(
    "database",
    [
        {**STARTPROJECT_SQLITE, "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20}},
        {**STARTPROJECT_SQLITE, "OPTIONS": {"transaction_mode": "immediate", "timeout": 5}},
        {**STARTPROJECT_SQLITE, "OPTIONS": {"transaction_mode": "EXCLUSIVE", "timeout": 20}},
        {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"},
    ],
)
def test_sqlite_that_waits_for_the_write_lock_and_other_databases_are_quiet(database):
    assert find_sqlite_problems({"default": database}) == []


def test_the_hint_pasted_into_startproject_settings_silences_w004():
    pasted = {**STARTPROJECT_SQLITE, **json.loads("{" + SQLITE_OPTIONS_FIX + "}")}
    assert find_sqlite_problems({"default": pasted}) == []


def test_sqlite_check_is_registered_and_names_the_alias(db):
    # tests/settings.py: "default" has the options when it is SQLite, "startproject" has none.
    with pytest.raises(SystemCheckError, match=r"django_doku_checkout\.W005.*DATABASES\['startproject'\]") as raised:
        call_command("check", "--tag", "sqlite", "--fail-level", "WARNING")
    assert "DATABASES['default']" not in str(raised.value)
    call_command("check", "--tag", "sqlite", "--database", "default", "--fail-level", "WARNING")


def test_check_ids_are_never_reused_and_listed_in_the_readme():
    root = Path(__file__).parents[1]
    package = root / "django_doku_checkout"
    # The keys' own ids are declared in settings_table.py; the rules across keys are in conf.py.
    # capacity.py: gunicorn's numbers against DEADLINE and the database (W009, W010).
    source = "".join(
        (package / name).read_text() for name in ("settings_table.py", "conf.py", "checks.py", "capacity.py")
    )
    found = [f.split(".")[-1] for f in re.findall(r'"((?:django_doku_checkout\.)?[EW]0\d\d)"', source)]
    # E001 covers "missing" and "not a dict"; every other id is raised from one place only.
    assert found.count("E001") == 2
    assert len([f for f in found if f != "E001"]) == len(set(found)) - 1
    readme = (root / "README.md").read_text()
    for check_id in set(found):
        assert f"django_doku_checkout.{check_id}" in readme


def test_a_misspelled_key_gets_the_closest_setting():
    from django_doku_checkout.conf import find_problems

    [problem] = find_problems({**VALID, "ENVIROMENT": "sandbox"}, debug=False)
    assert (problem.id, problem.hint) == ("django_doku_checkout.E007", "Did you mean 'ENVIRONMENT'?")


def test_forgetting_the_apps_urls_is_caught_by_check(settings):
    from django.urls import clear_url_caches

    from django_doku_checkout.checks import find_wiring_problems

    settings.ROOT_URLCONF = "tests.urls_without_the_app"
    clear_url_caches()
    try:
        messages = find_wiring_problems()
        assert ids(messages) == ["django_doku_checkout.E040"]
        assert 'include("django_doku_checkout.urls")' in str(messages[0].hint)
        # The simulator's URLs mounted, its app forgotten: its page would be TemplateDoesNotExist.
        settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_doku_checkout.simulator"]
        assert ids(find_wiring_problems()) == ["django_doku_checkout.E040", "django_doku_checkout.E041"]
    finally:
        clear_url_caches()


def test_the_wired_test_project_passes_the_wiring_check():
    from django_doku_checkout.checks import find_wiring_problems

    assert find_wiring_problems() == []


# --- the shop's Content Security Policy (W006) and ORDER_URL (W007) ------------------------------------


def csp_warnings():
    from django_doku_checkout.checks import find_csp_problems

    return find_csp_problems()


SANDBOX_PAGES = "'https://staging.doku.com' and 'https://sandbox.doku.com'"
PRODUCTION_PAGES = "'https://checkout.doku.com' and 'https://jokul.doku.com'"


@pytest.mark.parametrize(
    ("policy", "hint"),
    [
        ({"default-src": ["'self'"], "form-action": ["'self'"]}, SANDBOX_PAGES),
        # The sandbox hands out staging.doku.com links; its documentation shows sandbox.doku.com.
        (
            {"default-src": ["'self'"], "form-action": ["'self'", "https://sandbox.doku.com"]},
            "'https://staging.doku.com'",
        ),
        ({"form-action": ["'self'", "https://staging.doku.com", "https://sandbox.doku.com"]}, None),
        ({"form-action": ["'self'", "https://*.doku.com"]}, None),
        ({"form-action": ["https:"]}, None),
        ({"default-src": ["'self'"]}, None),  # form-action does not fall back to default-src
    ],
)
def test_w006_when_the_policy_blocks_the_redirect_to_doku(settings, policy, hint):
    settings.DOKU_CHECKOUT = {**VALID, "ENVIRONMENT": "sandbox"}
    settings.SECURE_CSP = policy
    warnings = csp_warnings()
    assert [m.id for m in warnings] == (["django_doku_checkout.W006"] if hint else [])
    if hint:
        assert "SECURE_CSP['form-action'] does not allow https://staging.doku.com" in warnings[0].msg
        assert "the pay button's redirect to DOKU's payment page" in warnings[0].msg
        assert warnings[0].hint == f"Add {hint} to SECURE_CSP['form-action']."


def test_w006_for_the_popup_reads_django_csp_and_the_fallbacks(settings):
    settings.DOKU_CHECKOUT = {**VALID, "ENVIRONMENT": "production", "PAY_BUTTON_MODE": "popup"}
    doku = ["https://checkout.doku.com", "https://jokul.doku.com"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"], "form-action": ["'self'", *doku]}}
    hints = [m.hint for m in csp_warnings()]
    assert hints == [
        """Add 'https://jokul.doku.com' to CONTENT_SECURITY_POLICY["DIRECTIVES"]['script-src'].""",
        f"""Add {PRODUCTION_PAGES} to CONTENT_SECURITY_POLICY["DIRECTIVES"]['frame-src'].""",
        """Add 'https://jokul.doku.com' to CONTENT_SECURITY_POLICY["DIRECTIVES"]['style-src'].""",
    ]
    settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["default-src"] = ["'self'", *doku]
    assert csp_warnings() == []


@pytest.mark.parametrize(
    ("policy", "hints"),
    [
        # Chromium reads script-src-elem for <script src>, and child-src before default-src for frames.
        (
            {"script-src": ["'self'", "https://jokul.doku.com"], "script-src-elem": ["'self'"]},
            ["Add 'https://jokul.doku.com' to SECURE_CSP['script-src-elem']."],
        ),
        (
            {"default-src": ["'self'", "https://jokul.doku.com"], "child-src": ["'self'"]},
            [f"Add {PRODUCTION_PAGES} to SECURE_CSP['frame-src']."],
        ),
        (
            {"default-src": ["'self'"], "child-src": ["https://jokul.doku.com"], "script-src": ["*.doku.com"]},
            ["Add 'https://checkout.doku.com' to SECURE_CSP['frame-src']."],
        ),
        # CSP3 host sources: scheme-less, wildcard subdomains, a path, an explicit port.
        ({"default-src": ["'self'", "*.doku.com"]}, []),
        ({"default-src": ["jokul.doku.com", "checkout.doku.com"]}, []),
        ({"default-src": ["https://jokul.doku.com:443/jokul-checkout-js/", "https://checkout.doku.com"]}, []),
        (
            {"default-src": ["https://jokul.doku.com/checkout/", "https://checkout.doku.com"]},
            ["Add 'https://jokul.doku.com' to SECURE_CSP['script-src']."],  # the script's path is elsewhere
        ),
        (
            {"default-src": ["https://*.doku.com:8443", "http://doku.com"]},
            ["Add 'https://jokul.doku.com' to SECURE_CSP['script-src']."]
            + [f"Add {PRODUCTION_PAGES} to SECURE_CSP['frame-src']."],
        ),
    ],
)
def test_w006_follows_csps_fallbacks_and_host_source_matching(settings, policy, hints):
    settings.DOKU_CHECKOUT = {**VALID, "ENVIRONMENT": "production", "PAY_BUTTON_MODE": "popup"}
    settings.SECURE_CSP = {
        "form-action": ["'self'", "https://checkout.doku.com", "https://jokul.doku.com"],
        "style-src": ["'self'", "https://jokul.doku.com"],
        **policy,
    }
    assert [m.hint for m in csp_warnings()] == hints


def test_w006_self_covers_a_simulator_on_the_shops_own_site(settings):
    settings.DOKU_CHECKOUT = {
        **VALID,
        "ENVIRONMENT": "simulator",
        "API_BASE_URL": "http://127.0.0.1:8000/doku-simulator",
        "SITE_URL": "http://127.0.0.1:8000",
        "PAY_BUTTON_MODE": "popup",
    }
    settings.SECURE_CSP = {"default-src": ["'self'"], "form-action": ["'self'"]}
    assert csp_warnings() == []


@pytest.mark.parametrize(
    ("order_url", "warned"),
    [
        ("doku_checkout:result", False),
        ("django_doku_checkout.order_urls.back_to_order_url", False),
        ("shop:no-such-page", True),
        ("doku_checkout:notification", True),  # takes no public_id
    ],
)
def test_w007_when_order_url_leads_nowhere(settings, order_url, warned):
    from django_doku_checkout.checks import find_order_url_problems

    settings.DOKU_CHECKOUT = {**VALID, "ORDER_URL": order_url}
    assert [m.id for m in find_order_url_problems()] == (["django_doku_checkout.W007"] if warned else [])


# --- API_BASE_URL that is not DOKU's host outside the simulator (W008, E043 with --deploy) ---------------

#: docs/local-development.md's mounted simulator: the shop serves it under its own address.
MOUNTED_SIMULATOR = "http://127.0.0.1:8000/doku-simulator"


def run_check(*args: str) -> str:
    """``manage.py check`` as a user runs it, failing on warnings too: what it reports, or ''."""
    try:
        call_command("check", "--fail-level", "WARNING", "--tag", "security", *args)
    except SystemCheckError as raised:
        return str(raised)
    return ""


def test_switching_to_sandbox_with_the_mounted_simulators_url_warns_and_fails_check_deploy(settings, monkeypatch):
    # The settings block reads DOKU_ENVIRONMENT; the user switched it, the snippet's URL stayed.
    settings.DEBUG = True  # startproject's default
    settings.DOKU_CHECKOUT = {**VALID, "ENVIRONMENT": "sandbox", "API_BASE_URL": MOUNTED_SIMULATOR}

    reported = run_check()
    assert "django_doku_checkout.W008" in reported
    assert "django_doku_checkout.E043" not in reported
    assert (
        "DOKU_CHECKOUT['API_BASE_URL'] is 'http://127.0.0.1:8000/doku-simulator' while "
        "DOKU_CHECKOUT['ENVIRONMENT'] is 'sandbox': every call meant for DOKU goes to 127.0.0.1, "
        "not to DOKU's api-sandbox.doku.com" in reported
    )
    assert "Remove API_BASE_URL" in reported
    assert "'simulator'" in reported

    deploy = run_check("--deploy")
    assert "django_doku_checkout.E043" in deploy
    assert "DOKU_CHECKOUT['API_BASE_URL'] is 'http://127.0.0.1:8000/doku-simulator'" in deploy


@pytest.mark.parametrize(
    ("changes", "warned"),
    [
        ({"ENVIRONMENT": "simulator", "API_BASE_URL": MOUNTED_SIMULATOR}, False),
        ({"ENVIRONMENT": "sandbox"}, False),
        ({"ENVIRONMENT": "sandbox", "API_BASE_URL": "https://api-sandbox.doku.com/"}, False),
        ({"ENVIRONMENT": "production", "API_BASE_URL": "https://api.doku.com"}, False),
        ({"ENVIRONMENT": "production", "API_BASE_URL": "https://api-sandbox.doku.com"}, True),
        ({"ENVIRONMENT": "sandbox", "API_BASE_URL": "https://api.doku.com.evil.example"}, True),
        ({"ENVIRONMENT": "production", "API_BASE_URL": "http://localhost:8765"}, True),
        ({"ENVIRONMENT": "production", "API_BASE_URL": "https://api.doku.com:443/"}, False),
        ({"ENVIRONMENT": "production", "API_BASE_URL": "http://api.doku.com"}, True),
        ({"ENVIRONMENT": "sandbox", "API_BASE_URL": "http://api-sandbox.doku.com/"}, True),
        ({"ENVIRONMENT": "production", "API_BASE_URL": "https://api.doku.com:8443"}, True),
        ({"ENVIRONMENT": "sandbox", "API_BASE_URL": "https://api-sandbox.doku.com/doku-simulator"}, True),
    ],
)
def test_w008_when_api_base_url_is_not_the_environments_doku_host(settings, changes, warned):
    settings.DEBUG = True
    settings.DOKU_CHECKOUT = {**VALID, **changes}
    assert [m.id for m in check_settings() if m.id.endswith("W008")] == (
        ["django_doku_checkout.W008"] if warned else []
    )
    # E027/W003 (simulator or sandbox about to go live) are the deploy check's other findings here.
    assert [m.id for m in check_deployment() if m.id.endswith("E043")] == (
        ["django_doku_checkout.E043"] if warned else []
    )


def test_plain_http_to_dokus_own_host_is_reported_naming_both_urls(settings):
    settings.DEBUG = False
    settings.DOKU_CHECKOUT = {**VALID, "ENVIRONMENT": "production", "API_BASE_URL": "http://api.doku.com"}

    deploy = run_check("--deploy")
    assert "django_doku_checkout.E043" in deploy
    assert (
        "DOKU_CHECKOUT['API_BASE_URL'] is 'http://api.doku.com' while DOKU_CHECKOUT['ENVIRONMENT'] is "
        "'production': every call meant for DOKU goes to http://api.doku.com, not to DOKU's https://api.doku.com."
        in deploy
    )


@pytest.mark.parametrize("environment", ["simulator", "sandbox"])
def test_the_documented_mounted_simulator_switches_to_sandbox_by_environment_alone(settings, monkeypatch, environment):
    from tests.test_documented_setup import LOCAL_DEVELOPMENT, titled_blocks

    # docs/local-development.md's settings block and its mounted-simulator lines, pasted into
    # startproject's settings; then DOKU's sandbox chosen by environment variables only.
    blocks = titled_blocks(LOCAL_DEVELOPMENT)
    startproject = {"INSTALLED_APPS": ["django.contrib.admin"], "DATABASES": {"default": dict(STARTPROJECT_SQLITE)}}
    for name in ("DOKU_CLIENT_ID", "DOKU_SECRET_KEY", "DOKU_API_BASE_URL", "SITE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOKU_ENVIRONMENT", environment)
    if environment == "sandbox":
        monkeypatch.setenv("DOKU_CLIENT_ID", "BRN-0214-1714016624673")
        monkeypatch.setenv("DOKU_SECRET_KEY", "SK-from-the-sandbox-back-office")
    exec(blocks["settings.py"] + blocks["settings.py (mounted simulator)"], startproject)  # noqa: S102 - our docs
    settings.DEBUG = True
    settings.DOKU_CHECKOUT = startproject["DOKU_CHECKOUT"]

    assert run_check() == ""
    expected = "http://127.0.0.1:8000/doku-simulator" if environment == "simulator" else "https://api-sandbox.doku.com"
    assert get_config().api_base_url == expected


def test_e045_a_split_rule_without_a_sub_account_is_refused(settings):
    # DOKU takes a split rule only beside the sub account it divides: without SUB_ACCOUNT_ID the
    # rule would never be sent, and the shop's split silently not made.
    settings.DOKU_CHECKOUT = {**VALID, "SUB_ACCOUNT_SPLIT_RULE_ID": "RULE-1"}
    messages = [m for m in check_settings() if m.id.endswith("E045")]
    assert [m.id for m in messages] == ["django_doku_checkout.E045"]
    assert "SUB_ACCOUNT_SPLIT_RULE_ID" in messages[0].msg
    assert "SUB_ACCOUNT_ID" in (messages[0].hint or "")

    settings.DOKU_CHECKOUT = {**VALID, "SUB_ACCOUNT_SPLIT_RULE_ID": "RULE-1", "SUB_ACCOUNT_ID": "SAC-1"}
    assert [m.id for m in check_settings() if m.id.endswith("E045")] == []
