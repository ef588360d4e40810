"""The health endpoint: :mod:`~django_doku_checkout.services.health`'s report as JSON, for monitors with the token.

Off (404) unless ``HEALTH_TOKEN`` is set. The token comes only in an ``Authorization: Bearer``
header (never the query string, which proxies log), compared in constant time; without it
nothing is read (401). 200 when the report is ok or a warning (its ``status`` says which),
503 when critical: what HTTP monitors alert on. Never cached. The report holds counts, times
and invoice numbers only, and each request runs the same few bounded queries.
"""

from __future__ import annotations

import hmac

from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from django_doku_checkout.conf import get_config
from django_doku_checkout.services.health import CRITICAL, health_report

#: The HTTP status of each report status: monitors alert on a 5xx.
HTTP_STATUS = {CRITICAL: 503}


def _bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme == "Bearer" else ""


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """The health report as JSON, for a monitor sending ``Authorization: Bearer <HEALTH_TOKEN>``."""
    expected = get_config().health_token
    if not expected:
        raise Http404("The health endpoint is off: HEALTH_TOKEN is not set.")
    if not hmac.compare_digest(_bearer_token(request).encode(), expected.encode()):
        response = JsonResponse({"detail": "A valid Authorization: Bearer token is required."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="doku-checkout-health"'
        return response
    report = health_report()
    return JsonResponse(report.as_dict(), status=HTTP_STATUS.get(report.status, 200))
