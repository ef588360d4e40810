"""``manage.py doku_checkout_doctor``: the account checked against a running simulator, and against a DOKU
that refuses the credentials, times out or fails (the simulator's faults, or ``responses`` at the HTTP edge).

The command runs as a shell runs it (``execute_from_command_line``), so its exit code is the one
cron or a deploy script sees. Tests without the ``db`` fixture also prove it writes nothing.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from django.core.checks import Tags, run_checks
from django.core.management import execute_from_command_line

from django_doku_checkout.models import Notification, Order
from django_doku_checkout.simulator.faults import Faults
from django_doku_checkout.simulator.store import STORE
from tests.doku import CLIENT_ID, SANDBOX, SECRET, checkout_success
from tests.example_shop import run_manage
from tests.servers import free_port, standalone_simulator

CHECKOUT = SANDBOX + "/checkout/v1/payment"
STATUS = re.compile(re.escape(SANDBOX) + r"/orders/v1/status/DOCTOR-.*")
CANCEL = SANDBOX + "/checkout/v3/cancellations"
MASKED = "MCH-****2547"
INDENT = " " * 9
WRONG_SECRET = "SK-wrong-secret-987"  # noqa: S105 - a test's wrong key
WRONG_CLIENT = "MCH-0001-99999999999999"


@pytest.fixture(autouse=True)
def _an_unpublished_secret_key(settings):
    """DOKU's sandbox and production with a key of the shop's own: the tests' published one fails check --deploy (E028)."""
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "SECRET_KEY": "SK-sandbox-key-of-the-shop"}


def run_doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    """The doctor's exit code, the lines it printed, and its standard error."""
    try:
        execute_from_command_line(["manage.py", "doku_checkout_doctor", *args])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    else:
        code = 0
    captured = capsys.readouterr()
    everything = captured.out + captured.err
    for secret in (SECRET, WRONG_SECRET, CLIENT_ID, WRONG_CLIENT):
        assert secret not in everything
    return code, captured.out.splitlines(), captured.err


def test_dokus_notification_of_the_doctors_link_is_answered_and_records_nothing(live_doku, capsys):
    """DOKU tells the shop when the doctor's link expires (or is paid): the shop answers 200, so DOKU
    stops retrying, and keeps it in the notification log only."""
    from django_doku_checkout.simulator import actions
    from django_doku_checkout.simulator.store import STORE

    code, lines, _ = run_doctor(capsys)
    assert code == 0, lines
    invoice = re.search(r"DOCTOR-\S+", finding(lines, "Client-Id and secret key")[0])[0]  # type: ignore[index]
    session = STORE.find(CLIENT_ID, invoice)
    assert session is not None

    actions.settle(session, "expire", "")
    assert STORE.wait_until_idle(10)

    received = Notification.objects.filter(invoice_number=invoice)
    assert [(n.signature_valid, n.outcome, n.order) for n in received] == [(True, Notification.Outcome.IGNORED, None)]
    sent = [
        attempt.status_code
        for sent in STORE.notifications
        if sent.invoice_number == invoice
        for attempt in sent.attempts
    ]
    assert sent == [200]  # answered at once: DOKU does not retry
    assert not Order.objects.exists()


def deploy_ids() -> list[str]:
    """The ids of this app's findings ``manage.py check --deploy`` adds to a plain ``check``, as Django runs them.

    Only the security tag, where the deploy checks are: Django 6.1's model checks would ask every
    database about JSON fields, and a test that does not use them may not."""
    plain = {message.id for message in run_checks(tags=[Tags.security])}
    return sorted(
        str(message.id)
        for message in run_checks(tags=[Tags.security], include_deployment_checks=True)
        if str(message.id).startswith("django_doku_checkout.") and message.id not in plain
    )


def finding(lines: list[str], title: str) -> list[str]:
    """A finding's lines: its first, and the indented ones under it."""
    start = next(index for index, line in enumerate(lines) if line[len(INDENT) :].startswith(title + ":"))
    end = start + 1
    while end < len(lines) and lines[end].startswith(INDENT):
        end += 1
    return lines[start:end]


def test_the_doctor_passes_against_the_simulator_and_leaves_no_order(live_doku, capsys):
    code, lines, err = run_doctor(capsys)

    assert code == 0, lines
    assert err == ""
    assert lines[0] == f"DOKU doctor: simulator at {live_doku}/doku-simulator, Client-Id {MASKED}"
    first = finding(lines, "Client-Id and secret key")
    assert re.fullmatch(
        r"ok       Client-Id and secret key: DOKU created the doctor's payment link DOCTOR-\d{14}-[0-9A-F]{4} "
        r"and its Status API answered PENDING\.",
        first[0],
    )
    assert first[1:] == []
    invoice = re.search(r"DOCTOR-\S+", first[0])[0]  # type: ignore[index]
    # Every channel is offered, cards too, which DOKU's cancellation does not cover.
    assert finding(lines, "The doctor's payment link") == [
        "ok       The doctor's payment link: DOKU did not cancel it (UNSUPPORTED_CHANNEL: cancellation is not "
        "available for this order's payment channels): it closes by itself within 5 minutes, and nobody was "
        "given its URL.",
        INDENT + "DOKU cancels only orders whose channels are all bank transfers (but BTN, BNC, BPD and OCBC), "
        "QRIS or convenience stores, for accounts it enabled the Cancel Order API for.",
    ]
    assert re.fullmatch(
        r"ok       Clock: This server's clock (agrees with DOKU's to the second|is 1 s ahead of DOKU's) "
        r"\(its Date header\)\.",
        finding(lines, "Clock")[0],
    )
    assert finding(lines, "Notification URL") == [
        f"ok       Notification URL: {live_doku}/doku/notification/ (the simulator calls it; DOKU's sandbox and "
        "production need it public and https).",
        INDENT + "With DOKU, enter the shop's public https URL in DOKU's back office: Integration > HTTP "
        "Notification (or each channel's CONFIGURE under Settings > Payment configuration).",
    ]
    assert finding(lines, "Return URLs") == [
        "ok       Return URLs: DOKU sends the shopper back to:",
        f"{INDENT}{live_doku}/doku/return/<order>/",
        f"{INDENT}{live_doku}/doku/cancel/<order>/",
        f"{INDENT}{live_doku}/doku/result/<order>/",
    ]
    assert finding(lines, "Content Security Policy") == [
        "ok       Content Security Policy: a pay button in redirect mode needs DOKU's sources, beside the shop's own:",
        f"{INDENT}form-action {live_doku}",
    ]
    # check --deploy fails this configuration: the doctor says so last, with the same ids.
    deploy = deploy_ids()
    assert deploy == ["django_doku_checkout.E027", "django_doku_checkout.E028"]
    going_live = finding(lines, "Going live")
    assert going_live[0] == (
        "warning  Going live: this configuration cannot go live: manage.py check --deploy reports "
        "django_doku_checkout.E027, django_doku_checkout.E028."
    )
    assert going_live[1].startswith(f"{INDENT}django_doku_checkout.E027: DOKU_CHECKOUT['ENVIRONMENT'] is 'simulator'")
    assert going_live[-1] == (
        f"{INDENT}What to do: Switch ENVIRONMENT to 'sandbox' with DOKU's sandbox keys, run the doctor again, "
        "then to 'production' with the production keys."
    )
    assert lines[-1] == "No problems, 1 warning."
    # The link is DOKU's only: created at the simulator, with no order of the shop's behind it.
    with STORE.lock:
        sessions = [session for session in STORE.sessions.values() if session.invoice_number == invoice]
    assert len(sessions) == 1
    assert sessions[0].amount == 10_000
    assert Order.objects.count() == 0


def test_a_wrong_secret_key_is_a_problem_naming_the_secret_key(live_doku, doku_settings, capsys):
    doku_settings(SECRET_KEY=WRONG_SECRET)

    code, lines, err = run_doctor(capsys)

    assert code == 1
    assert err == "CommandError: The doctor found problems: fix them before going live.\n"
    first = finding(lines, "Client-Id and secret key")
    assert re.fullmatch(
        r"problem  Client-Id and secret key: DOKU answered HTTP 401: invalid_signature: Invalid Header Signature "
        r"\(Request-Id [0-9a-f-]{36}\)",
        first[0],
    )
    assert first[1:] == [
        f"{INDENT}What to do: The signature did not verify: the SECRET_KEY setting is likelier wrong (not the key "
        f"of Client-Id {MASKED}). Copy it again from the simulator's DOKU_SIMULATOR['MERCHANTS'] (or, without it, "
        "the shop's own DOKU_CHECKOUT), with no space around it."
    ]
    # A refusal has DOKU's Date too: the clock is measured anyway.
    assert finding(lines, "Clock")[0].startswith("ok       Clock: This server's clock ")
    assert lines[-1] == "1 problem, 1 warning: fix the problems first."
    assert STORE.sessions == {}


def test_a_wrong_client_id_is_a_problem_naming_the_client_id(live_doku, doku_settings, capsys):
    doku_settings(CLIENT_ID=WRONG_CLIENT)

    code, lines, _ = run_doctor(capsys)

    assert code == 1
    first = finding(lines, "Client-Id and secret key")
    assert first[0].startswith(
        "problem  Client-Id and secret key: DOKU answered HTTP 401: invalid_client_id: Client-Id is not registered"
    )
    assert first[1:] == [
        f"{INDENT}What to do: DOKU does not know the Client-Id MCH-****9999: the CLIENT_ID setting is likelier "
        "wrong. Copy it from the simulator's DOKU_SIMULATOR['MERCHANTS'] (or, without it, the shop's own "
        "DOKU_CHECKOUT)."
    ]
    assert lines[0] == f"DOKU doctor: simulator at {live_doku}/doku-simulator, Client-Id MCH-****9999"


def test_doku_failing_with_5xx_is_a_problem_that_is_not_the_settings(live_doku, doku_settings, capsys):
    doku_settings(MAX_RETRIES=0)
    STORE.set_faults(CLIENT_ID, Faults(error_rate=1))

    code, lines, _ = run_doctor(capsys)

    assert code == 1
    first = finding(lines, "Client-Id and secret key")
    request_id = re.search(r"Request-Id ([0-9a-f-]{36})", first[0])[1]  # type: ignore[index]
    assert first == [
        "problem  Client-Id and secret key: DOKU answered HTTP 503: service_unavailable: Simulated outage "
        f"(Request-Id {request_id})",
        f"{INDENT}What to do: DOKU's service is failing, not your settings: run the doctor again in a few minutes; "
        f"if it keeps failing, tell DOKU's support the Request-Id {request_id}.",
    ]


def test_doku_timing_out_is_a_problem_with_its_next_step(live_doku, doku_settings, capsys):
    # The simulator waits longer than the read timeout before it takes the request: nothing is created.
    doku_settings(MAX_RETRIES=0, TIMEOUT=(2, 0.5))
    STORE.set_faults(CLIENT_ID, Faults(latency=1.5))

    code, lines, _ = run_doctor(capsys)

    assert code == 1
    first = finding(lines, "Client-Id and secret key")
    request_id = re.search(r"Request-Id ([0-9a-f-]{36})", first[0])[1]  # type: ignore[index]
    assert re.fullmatch(
        r"problem  Client-Id and secret key: DOKU timed out after 1 attempt\(s\) in 0\.\d s at POST "
        + re.escape(f"{live_doku}/doku-simulator/checkout/v1/payment")
        + r": DOKU took the request but did not answer within the TIMEOUT setting's read time "
        r"\(Request-Id [0-9a-f-]{36}\)",
        first[0],
    )
    assert first[1:] == [
        f"{INDENT}What to do: DOKU is slow now: run the doctor again in a few minutes. If DOKU keeps taking longer "
        f"than TIMEOUT's read time (0.5 s), tell DOKU's support the Request-Id {request_id}."
    ]
    assert finding(lines, "Clock") == [
        "warning  Clock: Not measured: DOKU did not answer.",
        f"{INDENT}What to do: It is measured once DOKU answers: fix the problem above, then run the doctor again.",
    ]


def test_a_standalone_simulator_that_is_not_running_is_named_with_its_whole_command(doku_settings, capsys):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    doku_settings(
        ENVIRONMENT="simulator",
        API_BASE_URL=base,
        MAX_RETRIES=0,
        CLIENT_ID="SIMULATOR-CLIENT",
        SITE_URL="http://localhost:8000",
    )

    code, lines, _ = run_doctor(capsys)

    assert code == 1
    command = (
        f"python -m django_doku_checkout.simulator --port {port} --client-id SIMULATOR-CLIENT "
        "--secret-key <SECRET_KEY> --notification-url http://localhost:8000/doku/notification/"
    )
    assert finding(lines, "Client-Id and secret key")[1:] == [
        f"{INDENT}What to do: Start the simulator at {base}: {command} (<SECRET_KEY>: the shop's SECRET_KEY). "
        "Or mount its URLs in the shop and point API_BASE_URL at them."
    ]
    # The clock waits for DOKU's answer; nothing to do about NTP yet.
    assert finding(lines, "Clock") == [
        "warning  Clock: Not measured: DOKU did not answer.",
        f"{INDENT}What to do: It is measured once DOKU answers: fix the problem above, then run the doctor again.",
    ]
    # The standalone simulator calls the URL it was started with, not SITE_URL's.
    assert finding(lines, "Notification URL") == [
        "ok       Notification URL: http://localhost:8000/doku/notification/ (the standalone simulator calls only "
        "its --notification-url: start it with this one; DOKU's sandbox and production need it public and https).",
        f"{INDENT}With DOKU, enter the shop's public https URL in DOKU's back office: Integration > HTTP "
        "Notification (or each channel's CONFIGURE under Settings > Payment configuration).",
    ]


def test_a_mounted_simulator_that_does_not_answer_is_the_shop_not_running(doku_settings, capsys):
    base = f"http://127.0.0.1:{free_port()}"
    doku_settings(ENVIRONMENT="simulator", API_BASE_URL=base + "/doku-simulator", MAX_RETRIES=0, SITE_URL=base)

    code, lines, _ = run_doctor(capsys)

    assert code == 1
    assert finding(lines, "Client-Id and secret key")[1:] == [
        f"{INDENT}What to do: Start the shop that mounts the simulator at {base}/doku-simulator (manage.py runserver)."
    ]
    assert finding(lines, "Notification URL")[0] == (
        f"ok       Notification URL: {base}/doku/notification/ (the simulator calls it; DOKU's sandbox and production "
        "need it public and https)."
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setting", "action"),
    [
        (
            {"SECRET_KEY": WRONG_SECRET},
            "The signature did not verify: the SECRET_KEY setting is likelier wrong (not the key of Client-Id "
            "SIMU****IENT). Copy it again from the standalone simulator's --secret-key, with no space around it, or "
            "start the simulator with the shop's keys: {command}",
        ),
        (
            {"CLIENT_ID": "SIMULATOR-OTHER"},
            "DOKU does not know the Client-Id SIMU****THER: the CLIENT_ID setting is likelier wrong. Copy it from "
            "the standalone simulator's --client-id, or start the simulator with the shop's keys: {command}",
        ),
    ],
    ids=["secret-key", "client-id"],
)
def test_wrong_keys_for_a_standalone_simulator_name_its_flags(doku_settings, capsys, setting, action):
    keys = {"client_id": "SIMULATOR-CLIENT", "secret_key": "SK-standalone-simulator-key"}
    with standalone_simulator("http://127.0.0.1:8000/doku/notification/", **keys) as base:
        doku_settings(
            ENVIRONMENT="simulator",
            API_BASE_URL=base,
            SITE_URL="http://127.0.0.1:8000",
            MAX_RETRIES=0,
            **{"CLIENT_ID": keys["client_id"], "SECRET_KEY": keys["secret_key"], **setting},
        )

        code, lines, _ = run_doctor(capsys)

    assert code == 1
    command = (
        f"python -m django_doku_checkout.simulator --port {base.rsplit(':', 1)[1]} --client-id "
        f"{setting.get('CLIENT_ID', keys['client_id'])} --secret-key <SECRET_KEY> --notification-url "
        "http://127.0.0.1:8000/doku/notification/ (<SECRET_KEY>: the shop's SECRET_KEY)."
    )
    assert finding(lines, "Client-Id and secret key")[1:] == [f"{INDENT}What to do: {action.format(command=command)}"]


@pytest.mark.parametrize(
    ("answer", "action"),
    [
        (
            {"body": requests.ConnectTimeout("connect timed out")},
            "Let this server open connections to api-sandbox.doku.com:443 (a firewall, a security group or a proxy "
            "is in the way; a proxy is read from HTTPS_PROXY), then run the doctor again.",
        ),
        (
            {"body": requests.ConnectionError("Name or service not known")},
            "This server could not reach DOKU's sandbox host, api-sandbox.doku.com (API_BASE_URL is not set): "
            "check this server's DNS and any proxy.",
        ),
        (
            {"status": 404, "body": "Not Found"},
            "DOKU has no /checkout/v1/payment at https://api-sandbox.doku.com: remove API_BASE_URL to use DOKU's "
            "own address for ENVIRONMENT, or correct it.",
        ),
        (
            {"status": 400, "json": {"error_messages": ["payment method is not active"]}},
            "DOKU took the credentials but refused the link; its message says why (a channel or a feature not "
            "active on the account): ask DOKU's support, with the Request-Id {request_id}.",
        ),
    ],
    ids=["connect-timeout", "unknown-host", "not-found", "refused-link"],
)
def test_each_other_way_doku_fails_has_its_next_step(doku_api, doku_settings, capsys, answer, action):
    doku_settings(MAX_RETRIES=0)
    doku_api.post(CHECKOUT, **answer)

    code, lines, _ = run_doctor(capsys)

    assert code == 1
    first = finding(lines, "Client-Id and secret key")
    assert first[0].startswith("problem  Client-Id and secret key: DOKU ")
    request_id = re.search(r"Request-Id ([0-9a-f-]{36})\)$", first[0])[1]  # type: ignore[index]
    assert first[1:] == [f"{INDENT}What to do: {action.format(request_id=request_id)}"]


def _doku_answers(doku_api, *, date: datetime | None = None) -> None:
    headers = {"Date": format_datetime(date, usegmt=True)} if date else {}
    doku_api.post(CHECKOUT, json=checkout_success(url="https://staging.doku.com/checkout-link-v2/tok"), headers=headers)
    doku_api.get(STATUS, status=404, json={"error": {"code": "not_found", "message": "Order not found"}})
    doku_api.post(CANCEL, json={"order": {"status": "CANCELLED"}, "message": ["SUCCESS"]})


def test_sandbox_credentials_that_work_and_a_cancelled_link(doku_api, capsys):
    _doku_answers(doku_api, date=datetime.now(UTC))

    code, lines, _ = run_doctor(capsys)

    assert code == 0, lines
    assert re.fullmatch(
        r"ok       Client-Id and secret key: DOKU created the doctor's payment link DOCTOR-\d{14}-[0-9A-F]{4}; "
        r"its Status API does not list it before a channel is picked\.",
        finding(lines, "Client-Id and secret key")[0],
    )
    assert finding(lines, "The doctor's payment link") == [
        "ok       The doctor's payment link: DOKU cancelled it: nobody can pay it."
    ]
    cancel = json.loads(doku_api.calls[2].request.body)
    assert cancel["payment"]["original_request_id"] == doku_api.calls[0].request.headers["Request-Id"]
    assert finding(lines, "Notification URL") == [
        "ok       Notification URL: https://shop.example.com/doku/notification/",
        f"{INDENT}What to do: Enter https://shop.example.com/doku/notification/ in DOKU's sandbox back office: "
        "Integration > HTTP Notification (or each channel's CONFIGURE under Settings > Payment configuration).",
    ]


def test_a_status_api_that_refuses_what_the_link_api_took_is_a_warning(doku_api, capsys):
    doku_api.post(CHECKOUT, json=checkout_success())
    doku_api.get(STATUS, status=401, json={"error": {"code": "invalid_signature", "message": "Invalid Signature"}})
    doku_api.post(CANCEL, json={"message": ["SUCCESS"], "order": {}})

    code, lines, _ = run_doctor(capsys)

    assert code == 0
    first = finding(lines, "Client-Id and secret key")
    assert re.fullmatch(
        r"warning  Client-Id and secret key: DOKU created the doctor's payment link DOCTOR-\d{14}-[0-9A-F]{4}, but "
        r"its Status API failed: DOKU answered HTTP 401: invalid_signature: Invalid Signature \(Request-Id [0-9a-f-]{36}\)",
        first[0],
    )
    assert first[1:] == [
        f"{INDENT}What to do: The return page and doku_checkout_reconcile ask the Status API: run the doctor again; "
        "if it fails again, tell DOKU's support the Request-Id."
    ]


@pytest.mark.parametrize(
    ("offset", "line"),
    [
        (timedelta(minutes=-2), "warning  Clock: This server's clock is 120 s ahead of DOKU's (its Date header)."),
        (timedelta(minutes=10), "problem  Clock: This server's clock is 600 s behind DOKU's (its Date header)."),
    ],
)
def test_a_clock_off_from_dokus_date_header(doku_api, capsys, offset, line):
    _doku_answers(doku_api, date=datetime.now(UTC) + offset)

    code, lines, _ = run_doctor(capsys)

    assert finding(lines, "Clock") == [
        line,
        f"{INDENT}What to do: Synchronise the clock (NTP: timedatectl set-ntp true): DOKU refuses a "
        "Request-Timestamp more than 5 minutes off.",
    ]
    assert code == (1 if line.startswith("problem") else 0)


def test_a_401_that_does_not_say_which_names_both(doku_api, capsys):
    doku_api.post(CHECKOUT, status=401, json={"message": ["Unauthorized"]})

    code, lines, _ = run_doctor(capsys)

    assert code == 1
    assert finding(lines, "Client-Id and secret key")[1] == (
        f"{INDENT}What to do: DOKU did not say which: CLIENT_ID or SECRET_KEY is wrong. Copy both again from DOKU's "
        "sandbox back office (Integration > API Keys; the sandbox's and production's differ)."
    )
    assert finding(lines, "Clock")[0] == "warning  Clock: Not measured: DOKU's answer carried no Date header."


@pytest.mark.parametrize(
    ("site_url", "why"),
    [
        ("http://shop.example.com", "it is http, not https"),
        ("https://localhost:8000", "localhost is a name only this machine or its network knows"),
        ("https://127.0.0.1", "127.0.0.1 is a loopback address"),
        ("https://[::1]", "::1 is a loopback address"),
        ("https://10.1.2.3", "10.1.2.3 is a private address"),
        ("https://192.168.1.20", "192.168.1.20 is a private address"),
        ("https://169.254.10.1", "169.254.10.1 is a link-local address"),
        ("https://shop.local", "shop.local is a name only this machine or its network knows"),
        ("https://shop.test", "shop.test is a name only this machine or its network knows"),
        ("https://intranet", "intranet is a name without a domain, which only its network resolves"),
        # What resolvers read as addresses though ipaddress does not: 127.1 is 127.0.0.1.
        ("https://127.1", "127.1 is a loopback address"),
        ("https://10.1", "10.1 is a private address"),
        ("https://192.168.1", "192.168.1 is a private address"),
        ("https://0x7f.1", "0x7f.1 is a loopback address"),
        ("https://localhost.localdomain", "localhost.localdomain is a name only this machine or its network knows"),
        ("https://intranet.localdomain", "intranet.localdomain is a name only this machine or its network knows"),
    ],
)
def test_a_notification_url_doku_cannot_call_is_a_problem_in_production(doku_api, doku_settings, capsys, site_url, why):
    doku_settings(ENVIRONMENT="production", SITE_URL=site_url)
    doku_api.post("https://api.doku.com/checkout/v1/payment", json=checkout_success())
    doku_api.get(re.compile(r"https://api\.doku\.com/orders/v1/status/.*"), status=404, json={})
    doku_api.post("https://api.doku.com/checkout/v3/cancellations", status=400, json={"message": ["not enabled"]})

    code, lines, _ = run_doctor(capsys)

    assert code == 1
    url = f"{site_url}/doku/notification/"
    assert finding(lines, "Notification URL") == [
        f"problem  Notification URL: {url}: DOKU cannot call it: {why}.",
        f"{INDENT}What to do: Set SITE_URL to the shop's public https address, then enter the URL this shows in "
        "DOKU's back office: Integration > HTTP Notification (or each channel's CONFIGURE under Settings > "
        "Payment configuration).",
    ]
    assert (
        finding(lines, "Return URLs")[0]
        == f"problem  Return URLs: shoppers elsewhere cannot come back to SITE_URL: {why}."
    )
    # check --deploy fails it too, for the same reason: the doctor lists what it reports.
    assert deploy_ids() == ["django_doku_checkout.E050"]
    going_live = finding(lines, "Going live")
    assert going_live[0] == (
        "problem  Going live: this configuration cannot go live: manage.py check --deploy reports "
        "django_doku_checkout.E050."
    )
    assert f"{INDENT}django_doku_checkout.E050: DOKU_CHECKOUT['SITE_URL'] is {site_url!r}" in going_live[1]
    assert f"DOKU cannot call its notification URL: {why}." in going_live[1]


def test_a_tunnel_and_a_proxy_prefix_are_warnings_with_the_url_doku_calls(doku_api, doku_settings, capsys):
    doku_settings(SITE_URL="https://abc123.ngrok-free.app", NOTIFICATION_PATH="/shop/doku/notification/")
    _doku_answers(doku_api)

    code, lines, _ = run_doctor(capsys)

    assert code == 0
    assert finding(lines, "Notification URL") == [
        "warning  Notification URL: https://abc123.ngrok-free.app/shop/doku/notification/: abc123.ngrok-free.app "
        "is a tunnel's domain, which DOKU's documentation says it refuses.",
        f"{INDENT}NOTIFICATION_PATH is /shop/doku/notification/, but SITE_URL and the URLconf put the app's at "
        "/doku/notification/: the return URLs and the notification URL disagree about the proxy's prefix.",
        f"{INDENT}What to do: Enter https://abc123.ngrok-free.app/shop/doku/notification/ in DOKU's sandbox back "
        "office: Integration > HTTP Notification (or each channel's CONFIGURE under Settings > Payment "
        "configuration).",
    ]


def test_the_pop_up_needs_four_directives_and_a_policy_that_blocks_them_is_a_warning(
    doku_api, doku_settings, settings, capsys
):
    doku_settings(PAY_BUTTON_MODE="popup")
    settings.SECURE_CSP = {"default-src": ["'self'"], "form-action": ["'self'"]}
    _doku_answers(doku_api)

    code, lines, _ = run_doctor(capsys)

    assert code == 0
    csp = finding(lines, "Content Security Policy")
    assert csp[:5] == [
        "warning  Content Security Policy: a pay button in popup mode needs DOKU's sources, beside the shop's own:",
        f"{INDENT}form-action https://staging.doku.com https://sandbox.doku.com",
        f"{INDENT}script-src https://sandbox.doku.com",
        f"{INDENT}frame-src https://staging.doku.com https://sandbox.doku.com",
        f"{INDENT}style-src https://sandbox.doku.com https://jokul.doku.com",
    ]
    assert csp[5].startswith(f"{INDENT}SECURE_CSP['form-action'] does not allow https://staging.doku.com")
    assert csp[-1] == f"{INDENT}What to do: Add the missing sources to the shop's policy."


def test_a_payment_page_on_a_host_the_csp_does_not_list_is_a_warning(doku_api, capsys):
    doku_api.post(CHECKOUT, json=checkout_success(url="https://pay.doku.com/checkout-link-v2/tok"))
    doku_api.get(STATUS, status=404, json={})
    doku_api.post(CANCEL, json={"message": ["SUCCESS"], "order": {}})

    code, lines, _ = run_doctor(capsys)

    assert code == 0
    assert finding(lines, "Content Security Policy")[-1] == (
        f"{INDENT}What to do: DOKU gave the doctor's link a page on https://pay.doku.com, which these sources do "
        "not list: add it to form-action (and frame-src for the pop-up), and tell the app's maintainers."
    )


def test_json_output_for_scripts_has_every_finding_and_no_secret(doku_api, doku_settings, capsys):
    doku_settings(SECRET_KEY=WRONG_SECRET)
    doku_api.post(
        CHECKOUT,
        status=401,
        json={"error": {"code": "invalid_signature", "message": f"Invalid Header Signature for {CLIENT_ID}"}},
    )

    code, lines, _ = run_doctor(capsys, "--json")

    assert code == 1
    report = json.loads("\n".join(lines))
    assert report["ok"] is False
    assert report["client_id"] == MASKED
    assert (report["problems"], report["warnings"]) == (1, 2)
    assert [(each["check"], each["status"]) for each in report["findings"]] == [
        ("credentials", "problem"),
        ("clock", "warning"),
        ("notification_url", "ok"),
        ("callback_urls", "ok"),
        ("csp", "ok"),
        ("deploy", "warning"),
    ]
    # DOKU's own text named the whole Client-Id: the report shows it masked.
    assert f"Invalid Header Signature for {MASKED}" in report["findings"][0]["summary"]


def test_broken_settings_are_reported_in_the_doctors_own_words(doku_settings, capsys):
    doku_settings(CLIENT_ID="")

    code, lines, _ = run_doctor(capsys)

    assert code == 1
    assert lines[0] == "DOKU doctor"
    assert lines[1].startswith("problem  Settings: ")
    assert lines[2] == f"{INDENT}What to do: Fix DOKU_CHECKOUT; manage.py check lists every problem."


@pytest.mark.slow
def test_the_doctor_on_the_example_shop_against_its_simulator(example_shop, tmp_path):
    """The run docs/operations.md shows: the example shop as a developer runs it, the simulator mounted in it."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "SITE_URL": example_shop}

    run = run_manage("doku_checkout_doctor", env=env)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "simulator-secret" not in run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"DOKU doctor: simulator at {example_shop}/doku-simulator, Client-Id SIMU****IENT"
    assert [line.split(":")[0] for line in lines if not line.startswith(INDENT)] == [
        "DOKU doctor",
        "ok       Client-Id and secret key",
        "ok       The doctor's payment link",
        "ok       Clock",
        "ok       Notification URL",
        "ok       Return URLs",
        "ok       Content Security Policy",
        "warning  Going live",
        "No problems, 1 warning.",
    ]
    assert finding(lines, "Content Security Policy")[1:] == [f"{INDENT}form-action {example_shop}"]
