"""Run the simulator on its own: ``python -m django_doku_checkout.simulator --port 8765``."""

from __future__ import annotations

import argparse
import os
import sys

import django
from django.conf import settings


def configure(*, client_id: str, secret_key: str, notification_url: str | None) -> None:
    settings.configure(
        DEBUG=True,
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "doku-simulator-only"),
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "[::1]"],
        ROOT_URLCONF="django_doku_checkout.simulator.root_urls",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_doku_checkout.simulator"],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware"],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
            }
        ],
        DATABASES={},
        USE_TZ=True,
        # Django's default is America/Chicago: the dashboard's times, labelled UTC, must be UTC.
        TIME_ZONE="UTC",
        DOKU_SIMULATOR={
            "MERCHANTS": [{"CLIENT_ID": client_id, "SECRET_KEY": secret_key, "NOTIFICATION_URL": notification_url}],
            # Alone on loopback, with no user accounts: its dashboard is the developer's.
            "OPEN_DASHBOARD": True,
        },
    )
    django.setup()


def argument_parser() -> argparse.ArgumentParser:
    """The command line's options (the documentation's commands are checked against it)."""
    parser = argparse.ArgumentParser(
        prog="python -m django_doku_checkout.simulator",
        description=(
            "A local DOKU Checkout simulator (no money moves). Point your shop at it with "
            "DOKU_CHECKOUT = {'ENVIRONMENT': 'simulator', 'API_BASE_URL': 'http://127.0.0.1:8765', "
            "'CLIENT_ID': <--client-id>, 'SECRET_KEY': <--secret-key>, ...}; run your shop on another port."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default %(default)s)")
    parser.add_argument(
        "--client-id",
        default=os.environ.get("DOKU_CLIENT_ID", "SIMULATOR-CLIENT"),
        help="the shop's DOKU_CHECKOUT['CLIENT_ID'] (default $DOKU_CLIENT_ID or %(default)s)",
    )
    parser.add_argument(
        "--secret-key",
        default=os.environ.get("DOKU_SECRET_KEY", "simulator-secret"),
        help="the shop's DOKU_CHECKOUT['SECRET_KEY']: requests and notifications are signed with it "
        "(default $DOKU_SECRET_KEY or the simulator's published key)",
    )
    parser.add_argument(
        "--notification-url",
        default=os.environ.get("DOKU_NOTIFICATION_URL"),
        help="the shop's notification endpoint, e.g. http://127.0.0.1:8000/doku/notification/ "
        "(default $DOKU_NOTIFICATION_URL); without it, payments are never notified",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = argument_parser().parse_args(argv)
    if not args.notification_url:
        print(
            "Warning: no --notification-url: payments made here will not be notified to your shop. "
            "Pass --notification-url http://127.0.0.1:8000/doku/notification/ (your shop's address).",
            file=sys.stderr,
            flush=True,
        )
    configure(client_id=args.client_id, secret_key=args.secret_key, notification_url=args.notification_url)

    import socket

    from django.core.servers.basehttp import WSGIServer, run
    from django.core.wsgi import get_wsgi_application

    class NoDelayServer(WSGIServer):
        """Writes each answer at once. With Nagle on, a kept-alive client waits out its
        delayed ACK (about 40 ms) for the body that follows the headers."""

        def get_request(self) -> tuple[socket.socket, object]:
            connection, address = super().get_request()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return connection, address

    print(f"DOKU simulator on http://{args.host}:{args.port}/ (client id {args.client_id})", flush=True)
    run(args.host, args.port, get_wsgi_application(), threading=True, server_cls=NoDelayServer)


if __name__ == "__main__":
    main()
