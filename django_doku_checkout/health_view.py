"""The health endpoint: :mod:`~django_doku_checkout.services.health`'s report as JSON, for monitors with the token.

Off (404) unless ``HEALTH_TOKEN`` is set. The token comes only in an ``Authorization: Bearer``
header (the scheme's name in any case) (never the query string, which proxies log), compared in constant time; without it
nothing is read (401), whatever the method. With it, ``GET`` and ``HEAD`` (monitors and load
balancers send either; ``HEAD`` gets no body) are answered 200 when the report is ok or a
warning (its ``status`` says which), 503 when critical or when the database could not be read
(``unknown``): what HTTP monitors alert on. Any other method gets a JSON 405 with nothing read.
CSRF-exempt: a monitor has no cookie, and the view changes nothing. Never cached. The report
holds counts, times and invoice numbers only, and each request runs the same few bounded
queries.
"""

from __future__ import annotations

import hmac

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from django_doku_checkout.conf import get_config
from django_doku_checkout.services.health import CRITICAL, UNKNOWN, health_report, unreadable

#: The HTTP status of each report status: monitors alert on a 5xx.
HTTP_STATUS = {CRITICAL: 503, UNKNOWN: 503}
#: The methods answered with the report.
ANSWERED = ("GET", "HEAD")


def _bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else ""  # a scheme's name is case-insensitive (RFC 7235)


def _answer(request: HttpRequest) -> JsonResponse:
    """The report, or ``unknown`` when the database could not be read."""
    try:
        report = health_report()
    except DatabaseError as err:
        answer = unreadable(err)
    else:
        answer = report.as_dict()
    response = JsonResponse(answer, status=HTTP_STATUS.get(answer["status"], 200))
    if request.method == "HEAD":
        response.content = b""
    return response


@csrf_exempt
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """The health report as JSON, for a monitor sending ``Authorization: Bearer <HEALTH_TOKEN>``."""
    expected = get_config().health_token
    if not expected:  # answered, not raised: never_cache marks it too, so no proxy keeps "off"
        return JsonResponse({"detail": "The health endpoint is off: HEALTH_TOKEN is not set."}, status=404)
    if not hmac.compare_digest(_bearer_token(request).encode(), expected.encode()):
        response = JsonResponse({"detail": "A valid Authorization: Bearer token is required."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="doku-checkout-health"'
        return response
    if request.method not in ANSWERED:
        response = JsonResponse({"detail": "Only GET and HEAD are answered."}, status=405)
        response["Allow"] = ", ".join(ANSWERED)
        return response
    return _answer(request)
