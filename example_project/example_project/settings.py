"""The example shop. Every value comes from the environment (or an optional .env file).

With no environment at all it runs on SQLite against the built-in DOKU simulator, mounted at
/doku-simulator/. Set DOKU_ENVIRONMENT=sandbox with DOKU_CLIENT_ID and DOKU_SECRET_KEY to use
DOKU's real sandbox instead, with no code change.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import django
import environ
from django.core.exceptions import ImproperlyConfigured

from django_doku_checkout.csp import doku_sources

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# Dangerous: the defaults below are for a local demo only. Set them in production.
DEBUG = env.bool("DJANGO_DEBUG", default=True)
# The fallback key is published with this code: anyone could sign sessions and reset tokens
# with it. With DEBUG off the shop refuses to start rather than run on it.
PUBLISHED_SECRET_KEY = "example-shop-insecure-development-key"
SECRET_KEY = env("DJANGO_SECRET_KEY", default=PUBLISHED_SECRET_KEY)
if not DEBUG and SECRET_KEY == PUBLISHED_SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is False but DJANGO_SECRET_KEY is not set, so the example shop would sign sessions with "
        "the key published in its code. Set DJANGO_SECRET_KEY to a long random value, for example the output of "
        "python -c 'from django.core.management.utils import get_random_secret_key; print(get_random_secret_key())'."
    )
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# The built-in simulator takes any payment: the shop falls back to it only with DEBUG on,
# and refuses to start with DEBUG off rather than take free orders.
DOKU_ENVIRONMENT = env("DOKU_ENVIRONMENT", default="simulator" if DEBUG else None)
if DOKU_ENVIRONMENT is None or (DOKU_ENVIRONMENT == "simulator" and not DEBUG):
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is False, so the example shop will not use the DOKU simulator (it takes any payment). "
        "Set DOKU_ENVIRONMENT=production (or sandbox) with DOKU_CLIENT_ID and DOKU_SECRET_KEY."
    )
SIMULATOR = DOKU_ENVIRONMENT == "simulator"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # The shop comes first so its templates override the app's (django_doku_checkout/base.html).
    "shop",
    "django_doku_checkout",
]
if SIMULATOR:
    INSTALLED_APPS.append("django_doku_checkout.simulator")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.context_processors.cart",
            ]
        },
    }
]

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The simulator notifies the shop from another thread while the shopper's request
    # writes too: take the write lock up front and wait for it, instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("id", "Bahasa Indonesia")]
TIME_ZONE = "Asia/Jakarta"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if not DEBUG else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = 0 if DEBUG else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = not DEBUG

DOKU_CHECKOUT = {
    # The simulator accepts any credentials; DOKU's sandbox and production need real ones.
    "CLIENT_ID": env("DOKU_CLIENT_ID", default="SIMULATOR-CLIENT" if SIMULATOR else ""),
    "SECRET_KEY": env("DOKU_SECRET_KEY", default="simulator-secret" if SIMULATOR else ""),
    "ENVIRONMENT": DOKU_ENVIRONMENT,
    "API_BASE_URL": env("DOKU_API_BASE_URL", default=f"{SITE_URL}/doku-simulator" if SIMULATOR else None),
    "SITE_URL": SITE_URL,
    "ORDER_URL": "shop:order",
    # "popup" opens DOKU's page over the shop with DOKU's Checkout JS.
    "PAY_BUTTON_MODE": env("DOKU_PAY_BUTTON_MODE", default="redirect"),
}

# A Content Security Policy, enforced: no page carries inline script or style, and DOKU's
# hosts are allowed where the pay button needs them (form-action for the redirect to DOKU's
# page; script-src, frame-src and style-src for the pop-up): doku_sources() lists them for
# the environment. A simulator on this site is covered by 'self'.
CSP_DIRECTIVES = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
}
for _directive, _sources in doku_sources(DOKU_ENVIRONMENT, DOKU_CHECKOUT["API_BASE_URL"]).items():
    CSP_DIRECTIVES[_directive] = ["'self'", *_sources]
if django.VERSION >= (6, 0):  # Django's own CSP support
    MIDDLEWARE.append("django.middleware.csp.ContentSecurityPolicyMiddleware")
    TEMPLATES[0]["OPTIONS"]["context_processors"].append("django.template.context_processors.csp")
    SECURE_CSP = CSP_DIRECTIVES
elif find_spec("csp"):  # django-csp on Django 5.2
    MIDDLEWARE.append("csp.middleware.CSPMiddleware")
    CONTENT_SECURITY_POLICY = {"DIRECTIVES": CSP_DIRECTIVES}

# In development "Email payment link" in the admin prints the e-mail in the terminal; a live
# shop configures its own mail (SMTP) instead.
if DEBUG and django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

DOKU_SIMULATOR = {"MERCHANT_NAME": "Toko Kopi Nusantara (example shop)"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_doku_checkout": {"handlers": ["console"], "level": "INFO"}},
}
