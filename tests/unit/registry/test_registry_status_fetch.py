"""Fetching another issuer's status list: a real HTTP server on loopback answers; the fetcher
must return the document only when every bound holds, and None (never a guess) otherwise."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from registry.adapters.status_fetch import StatusListFetcher
from registry.domain import status_list

pytestmark = pytest.mark.timeout(60)

LISTING = {"type": ["VerifiableCredential", "BitstringStatusListCredential"], "id": "x"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        if self.path == "/list":
            body = json.dumps(LISTING).encode()
            self._send(200, body, {"Content-Length": str(len(body))})
        elif self.path == "/big-declared":
            self._send(200, b"{}", {"Content-Length": str(10 * 1024 * 1024)})
        elif self.path == "/big-streamed":  # no Content-Length: the body ends with the connection
            self.send_response(200)
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b" " * 4096)
        elif self.path == "/slow":
            time.sleep(3)
            self._send(200, b"{}")
        elif self.path == "/redirect":
            self._send(302, b"", {"Location": "/list"})
        elif self.path == "/not-json":
            self._send(200, b"<html>hello</html>")
        elif self.path == "/array":
            self._send(200, b"[1, 2]")
        elif self.path == "/gzipped":
            self._send(
                200, gzip.compress(json.dumps(LISTING).encode()), {"Content-Encoding": "gzip"}
            )
        else:
            self._send(404, b"{}")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[str]]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.requests  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_a_status_list_within_the_bounds_is_returned(server):
    base, _ = server
    fetcher = StatusListFetcher(timeout_seconds=2)
    assert await fetcher(f"{base}/list") == LISTING
    allowed = StatusListFetcher.from_settings(" example.org , 127.0.0.1 ", 2, 4096)
    assert await allowed(f"{base}/list") == LISTING


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/big-declared", "larger than"),
        ("/big-streamed", "larger than"),
        ("/redirect", "HTTP 302"),
        ("/missing", "HTTP 404"),
        ("/not-json", "JSON"),
        ("/array", "JSON object"),
        ("/gzipped", "gzip-encoded"),
    ],
)
async def test_an_answer_outside_the_bounds_is_unreadable(server, path, reason):
    base, _ = server
    fetcher = StatusListFetcher(timeout_seconds=2, max_bytes=64 * 1024)
    assert await fetcher(f"{base}{path}") is None
    assert reason in fetcher.last_failure[f"{base}{path}"]


async def test_a_slow_server_is_given_up_on_at_the_time_limit(server):
    base, _ = server
    fetcher = StatusListFetcher(timeout_seconds=0.5)
    started = time.monotonic()
    assert await fetcher(f"{base}/slow") is None
    assert time.monotonic() - started < 2
    assert "did not answer within 0.5 s" in fetcher.last_failure[f"{base}/slow"]


async def test_urls_that_may_not_be_fetched_are_refused_without_a_request(server):
    base, requests = server
    port = base.rsplit(":", 1)[1]
    before = len(requests)
    only_elsewhere = StatusListFetcher(allowed_hosts=frozenset({"status.example.org"}))
    assert await only_elsewhere(f"{base}/list") is None
    assert "not an allowed status list host" in only_elsewhere.last_failure[f"{base}/list"]
    fetcher = StatusListFetcher(timeout_seconds=1)
    for url in (
        "file:///etc/passwd",
        f"ftp://127.0.0.1:{port}/list",
        "data:application/json,{}",
        f"http://user:secret@127.0.0.1:{port}/list",
        "http:///list",
    ):
        assert await fetcher(url) is None, url
        assert url in fetcher.last_failure
    assert len(requests) == before


def test_an_encoded_list_that_inflates_past_the_cap_is_refused():
    bits = status_list.set_bit(status_list.empty_list(), 7)
    assert status_list.get_bit(status_list.decode(status_list.encode(bits)), 7)
    bomb = status_list.encode(bytes(status_list.MAX_DECODED_BYTES + 1))
    assert len(bomb) < 10_000  # a few KiB on the wire
    with pytest.raises(ValueError, match="expands to more than"):
        status_list.decode(bomb)
    with pytest.raises(ValueError, match="truncated"):
        status_list.decode(status_list.encode(bits)[:-20])
