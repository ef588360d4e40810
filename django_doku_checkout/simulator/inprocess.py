"""Serve the simulator inside the test process: a ``requests`` adapter that calls its views."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from django.test import RequestFactory
from django.urls import get_script_prefix, get_urlconf, resolve, set_script_prefix, set_urlconf
from requests.structures import CaseInsensitiveDict

URLCONF = "django_doku_checkout.simulator.root_urls"


class InProcessSimulator(requests.adapters.BaseAdapter):
    """Answers requests under ``base_url`` with the simulator's views, with no socket at all."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.prefix = urlsplit(self.base_url).path

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        path = parts.path.removeprefix(self.prefix) or "/"
        headers: Mapping[str, str] = request.headers
        forwarded = {
            key: value
            for key, value in headers.items()
            if key.lower() not in {"content-type", "content-length", "host"}
        }
        body = request.body or b""
        django_request = RequestFactory().generic(
            request.method or "GET",
            path,
            data=body.encode() if isinstance(body, str) else body,
            content_type=headers.get("Content-Type", ""),
            headers={**forwarded, "Host": parts.netloc},
        )
        saved_urlconf, saved_prefix = get_urlconf(), get_script_prefix()
        set_urlconf(URLCONF)
        set_script_prefix(self.prefix + "/")
        try:
            match = resolve(path)
            answer = match.func(django_request, *match.args, **match.kwargs)
        finally:
            set_urlconf(saved_urlconf)
            set_script_prefix(saved_prefix)
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers = CaseInsensitiveDict(dict(answer.items()))
        response.url = request.url or ""
        response.request = request
        response.reason = getattr(answer, "reason_phrase", "")
        return response

    def close(self) -> None:
        """Nothing to release: no connection was opened."""
