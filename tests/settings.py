from __future__ import annotations

import os
import tempfile
from pathlib import Path

import django
import environ

env = environ.Env()

SECRET_KEY = "tests-only-django-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "Asia/Jakarta"
LANGUAGE_CODE = "en"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_doku_checkout",
    "django_doku_checkout.simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"

#: SQLite in a file, as a shop runs it: the live servers' threads then open their own
#: connections. An in-memory database would be one connection shared by the test and every
#: server thread, and two threads using it at once (a notification retried while the test reads)
#: break each other's savepoints.
SQLITE_FILE = str(Path(tempfile.gettempdir()) / f"doku-checkout-tests-{os.getpid()}.sqlite3")
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{SQLITE_FILE}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # What the README asks of a shop on SQLite (system check W005).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", DATABASES["default"]["NAME"])
# A shop's SQLite database as `django-admin startproject` writes it (no OPTIONS), in a file
# so that a second connection can hold its write lock. tests/test_db.py uses it whatever
# DATABASE_URL says, and test_checks.py expects W005 about it.
STARTPROJECT_SQLITE = str(Path(tempfile.gettempdir()) / f"doku-checkout-tests-startproject-{os.getpid()}.sqlite3")
DATABASES["startproject"] = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": STARTPROJECT_SQLITE,
    "TEST": {"NAME": STARTPROJECT_SQLITE, "DEPENDENCIES": []},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DOKU_CHECKOUT = {
    "CLIENT_ID": "MCH-0001-10791114622547",
    "SECRET_KEY": "SK-test-secret-123",
    "ENVIRONMENT": "sandbox",
    "SITE_URL": "https://shop.example.com",
    "RETRY_BACKOFF": 0,
    "STATUS_CHECK_INTERVAL": 0,
}
STATIC_URL = "static/"

if django.VERSION >= (6, 1):
    # Django 6.1 sends mail through named mailers; tests keep it in memory (mail.outbox).
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
