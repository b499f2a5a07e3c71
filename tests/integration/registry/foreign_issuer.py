"""Another issuer for the registry's tests: a ``did:key`` that signs Open Badges 3.0 credentials
with Bitstring status entries, and a real HTTP server on loopback publishing its signed status
list credentials (a thread running :class:`http.server.ThreadingHTTPServer`)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.domain import openbadges, proofs, status_list


class ForeignIssuer:
    def __init__(self, name: str = "Other State DOE") -> None:
        self.key = Ed25519PrivateKey.generate()
        self.multikey = proofs.public_key_multibase(self.key.public_key())
        self.did = f"did:key:{self.multikey}"
        self.method = f"{self.did}#{self.multikey}"
        self.name = name

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        return proofs.sign(document, self.key, self.method, datetime.now(UTC))

    def status_list(
        self, url: str, bits: bytes, purpose: str = "revocation", **overrides: Any
    ) -> dict[str, Any]:
        """A signed ``BitstringStatusListCredential`` published at ``url``."""
        document: dict[str, Any] = {
            "@context": [openbadges.VC_V2_CONTEXT],
            "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.did,
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {
                "id": f"{url}#list",
                "type": "BitstringStatusList",
                "statusPurpose": purpose,
                "encodedList": status_list.encode(bits),
            },
        }
        document.update(overrides)
        return self.sign(document)

    def badge(
        self,
        educator_id: str,
        achievement_id: str,
        *,
        status_url: str | None,
        index: int = 0,
        purpose: str = "revocation",
        sign: bool = True,
        name: str = "Checks for Understanding",
    ) -> dict[str, Any]:
        """An OB 3.0 credential for the educator (state educator id, hashed), its status at
        ``index`` of the list at ``status_url``."""
        salt = uuid.uuid4().hex[:8]
        document: dict[str, Any] = {
            "@context": [
                openbadges.VC_V2_CONTEXT,
                openbadges.OB_V3_CONTEXT,
                openbadges.OB_EXTENSIONS_CONTEXT,
            ],
            "id": f"urn:uuid:{uuid.uuid4()}",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": self.did, "type": ["Profile"], "name": self.name},
            "validFrom": "2026-02-01T00:00:00Z",
            "awardedDate": "2026-02-01T00:00:00Z",
            "name": name,
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "identifier": [
                    {
                        "type": "IdentityObject",
                        "identityType": "identifier",
                        "hashed": True,
                        "identityHash": openbadges.identity_hash(educator_id, salt),
                        "salt": salt,
                    }
                ],
                "achievement": {
                    "id": achievement_id,
                    "type": ["Achievement"],
                    "achievementType": "MicroCredential",
                    "name": name,
                    "description": "Frequent checks for understanding during instruction.",
                    "criteria": {"narrative": "Lesson video and reflection, scored on a rubric."},
                },
            },
            "credentialSchema": [
                {"id": openbadges.OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}
            ],
        }
        if status_url is not None:
            document["credentialStatus"] = {
                "id": f"{status_url}#{index}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(index),
                "statusListCredential": status_url,
            }
        return self.sign(document) if sign else document


class StatusServer:
    """Serves ``documents[path]`` as JSON (404 for anything else); counts requests."""

    def __init__(self, base: str, documents: dict[str, dict[str, Any]], hits: list[str]) -> None:
        self.base = base
        self.documents = documents
        self.hits = hits

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def publish(self, path: str, document: dict[str, Any]) -> None:
        self.documents[path] = document

    def withdraw(self, path: str) -> None:
        self.documents.pop(path, None)


@contextmanager
def status_server() -> Iterator[StatusServer]:
    documents: dict[str, dict[str, Any]] = {}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(self.path)
            document = documents.get(self.path)
            body = json.dumps(document if document is not None else {}).encode()
            self.send_response(200 if document is not None else 404)
            self.send_header("Content-Type", "application/vc+ld+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield StatusServer(f"http://127.0.0.1:{httpd.server_address[1]}", documents, hits)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
