"""Reading another issuer's Bitstring status list credential over HTTP(S).

The ``statusListCredential`` URL of a credential issued elsewhere is fetched with bounds, since
anyone can post a credential naming any URL to the public verifier:

- only ``http`` and ``https`` URLs, and, when an allowlist is configured
  (``REGISTRY_STATUS_FETCH_ALLOWED_HOSTS``), only those hosts;
- one request, no redirects (a redirect could leave the allowlist), no proxy settings from
  the environment, no credentials in the URL, no content encoding;
- a total time limit for connecting and reading, and a cap on the response body, enforced
  while it streams in;
- the answer must be a JSON object.

Whatever goes wrong, the answer is None ("cannot be read"): the caller's status check is then
*unknown*, never valid. Why is logged, and kept on :attr:`StatusListFetcher.last_failure` for
the check's detail.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_BYTES = 1024 * 1024
"""A status list credential of the minimum size is ~16 KiB of GZIP'd bits (base64url); 1 MiB
leaves room for large lists and rejects anything meant to exhaust memory."""


class StatusFetchRefused(Exception):
    """The URL may not be fetched, or its answer is not a status list document."""


@dataclass
class StatusListFetcher:
    """``await fetcher(url)``: the status list credential at ``url`` as a JSON object, or None."""

    allowed_hosts: frozenset[str] = frozenset()
    """Hosts (lower case, no port) that may be fetched from; empty: any host."""
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_bytes: int = DEFAULT_MAX_BYTES
    last_failure: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Why the last fetch of each URL failed (bounded; for the verification report)."""

    @classmethod
    def from_settings(
        cls, allowed_hosts: str | Iterable[str], timeout_seconds: float, max_bytes: int
    ) -> StatusListFetcher:
        hosts = allowed_hosts.split(",") if isinstance(allowed_hosts, str) else allowed_hosts
        return cls(
            allowed_hosts=frozenset(h.strip().lower() for h in hosts if h.strip()),
            timeout_seconds=timeout_seconds,
            max_bytes=max_bytes,
        )

    def check_url(self, url: str) -> None:
        """:class:`StatusFetchRefused` unless ``url`` may be fetched."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError as exc:
            raise StatusFetchRefused(f"not a URL: {exc}") from exc
        if parts.scheme not in ("http", "https"):
            raise StatusFetchRefused(f"only http and https status lists are read, not {url!r}")
        if not host:
            raise StatusFetchRefused(f"{url!r} names no host")
        if parts.username is not None or parts.password is not None:
            raise StatusFetchRefused("a status list URL may not carry credentials")
        if self.allowed_hosts and host not in self.allowed_hosts:
            raise StatusFetchRefused(f"{host} is not an allowed status list host")

    async def fetch(self, url: str) -> dict[str, Any]:
        """The document, or :class:`StatusFetchRefused` / an ``httpx`` or timeout error."""
        self.check_url(url)
        async with asyncio.timeout(self.timeout_seconds):
            async with (
                httpx.AsyncClient(
                    timeout=self.timeout_seconds, follow_redirects=False, trust_env=False
                ) as client,
                client.stream(
                    "GET",
                    url,
                    # Uncompressed only: the size cap then bounds what is held in memory.
                    headers={
                        "Accept": "application/vc+ld+json, application/vc, application/json",
                        "Accept-Encoding": "identity",
                    },
                ) as response,
            ):
                if response.status_code != 200:
                    raise StatusFetchRefused(f"{url} answered HTTP {response.status_code}")
                encoding = response.headers.get("content-encoding", "identity").lower()
                if encoding not in ("", "identity"):
                    raise StatusFetchRefused(f"{url} answered {encoding}-encoded, not identity")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                    raise StatusFetchRefused(f"{url} is larger than {self.max_bytes} bytes")
                body = bytearray()
                async for chunk in response.aiter_raw():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise StatusFetchRefused(f"{url} is larger than {self.max_bytes} bytes")
        try:
            document = json.loads(bytes(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise StatusFetchRefused(f"{url} did not answer JSON") from exc
        if not isinstance(document, dict):
            raise StatusFetchRefused(f"{url} did not answer a JSON object")
        return document

    async def __call__(self, url: str) -> Mapping[str, Any] | None:
        try:
            document = await self.fetch(url)
        except (StatusFetchRefused, httpx.HTTPError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError | httpx.TimeoutException):
                reason = f"{url} did not answer within {self.timeout_seconds:g} s"
            log.info("status list %s cannot be read: %s", url, reason)
            if len(self.last_failure) > 256:
                self.last_failure.clear()
            self.last_failure[url] = reason
            return None
        self.last_failure.pop(url, None)
        return document
