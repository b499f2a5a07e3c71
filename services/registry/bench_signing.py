"""How many credentials per second one process signs and verifies (eddsa-rdfc-2022).

    .venv/bin/python services/registry/bench_signing.py [--n 300]

Measures, on one core, in one process, over distinct realistic OB 3.0 credentials (each award
has its own educator hash, salt, status index and results):

- sign: RDFC-1.0 canonicalization of the credential and the proof options, SHA-256, Ed25519;
- verify (proof): the same canonicalization and an Ed25519 verification;
- verify (all checks): what POST /credentials/verify does besides database reads: the
  1EdTech JSON Schema, the proof, the status lists (each list credential's own proof, decoded
  bits), the validity window;
- verify (all checks, warm): the same credentials checked again, as a verifier portal does:
  the proof and schema results come from the verification memos (keyed by content,
  ``registry.domain.proof_cache``); the status lists are still read and checked every time.

The memos are emptied before each cold measurement, so "cold" is every credential's first
check. The first call (context loading, schema compilation) is excluded as warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mc_devstack.samples import mc_spec_data
from mc_events.contracts.common import CriterionResult
from registry.domain import proof_cache, proofs, status_list, verification
from registry.domain.awards import PassedDecision, award
from registry.domain.catalog import MicroCredential, MicroCredentialSpec
from registry.domain.openbadges import (
    PublicUrls,
    StatusEntry,
    open_badge_credential,
    status_list_credential,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URLS = PublicUrls("https://creds.state.example", "https://evidence.state.example", "SDE")
METHOD = f"{URLS.issuer}/keys/key-1"


def spec() -> MicroCredentialSpec:
    """The sample micro-credential (``mc_devstack.samples``) scored on three criteria."""
    levels = [{"id": i, "name": i.title()} for i in ("emerging", "proficient", "exemplary")]
    rubric = [
        {"id": c, "name": c.title(), "levels": levels, "required_level_id": "proficient"}
        for c in ("planning", "practice", "reflection")
    ]
    return MicroCredentialSpec.model_validate(
        mc_spec_data(rubric=rubric, allowed_purposes=["license_renewal"])
    )


def credentials(n: int) -> list[dict]:
    mc = MicroCredential.create("wait-time", "provider-a", spec(), "ann", T0)
    mc.submit("ann", T0)
    mc.approve("sea", T0)
    docs = []
    for i in range(n):
        results = tuple(
            CriterionResult(criterion_id=c, achieved_level_id=level, met=True)
            for c, level in zip(
                ("planning", "practice", "reflection"),
                ("proficient", "exemplary")[i % 2 :] + ("proficient",) * 2,
                strict=False,
            )
        )
        decision = PassedDecision(
            decision_id=f"dec-{i}",
            enrollment_id=f"enr-{i}",
            submission_id=f"sub-{i}",
            educator_id=f"TX-{i:07d}",
            district_id="d-1",
            micro_credential_id="wait-time",
            micro_credential_version=1,
            results=results,
            decided_at=T0 + timedelta(seconds=i),
        )
        a = award(decision, mc)
        a.valid_until = a.awarded_at + timedelta(days=5 * 365)
        entry = StatusEntry("revocation-1", i)
        docs.append(open_badge_credential(a, mc, "Provider A", URLS, entry, salt=f"{i:032x}"))
    return docs


def rate(label: str, count: int, seconds: float, cpu: float, per_item: list[float]) -> None:
    """Wall-clock rate and latencies, and the rate per CPU-second of this process (what one
    uncontended core does; the two agree on an idle machine)."""
    p50 = statistics.median(per_item) * 1000
    p95 = statistics.quantiles(per_item, n=20)[18] * 1000
    print(
        f"{label:<20} {count / seconds:7.1f} /s wall  {count / cpu:7.1f} /s per CPU-second"
        f"   p50 {p50:6.2f} ms  p95 {p95:6.2f} ms   ({count} in {seconds:.2f} s)"
    )


async def main(n: int) -> None:
    key = Ed25519PrivateKey.generate()
    docs = credentials(n + 1)
    proofs.sign(docs[0], key, METHOD, T0)  # warm-up: contexts

    times: list[float] = []
    signed = []
    start, cpu = time.perf_counter(), time.process_time()
    for doc in docs[1:]:
        t = time.perf_counter()
        signed.append(proofs.sign(doc, key, METHOD, T0))
        times.append(time.perf_counter() - t)
    rate("sign", n, time.perf_counter() - start, time.process_time() - cpu, times)

    public = key.public_key()
    proof_cache.clear()
    times = []
    start, cpu = time.perf_counter(), time.process_time()
    for doc in signed:
        t = time.perf_counter()
        proofs.verify(doc, doc["proof"][0], public)
        times.append(time.perf_counter() - t)
    rate("verify (proof)", n, time.perf_counter() - start, time.process_time() - cpu, times)

    lists = {
        URLS.status_list(list_id): proofs.sign(
            status_list_credential(URLS, list_id, purpose, status_list.empty_list(), T0),
            key,
            METHOD,
            T0,
        )
        for list_id, purpose in (("revocation-1", "revocation"), ("suspension-1", "suspension"))
    }

    async def resolve(method: str) -> verification.ResolvedKey | None:
        return verification.ResolvedKey(public, URLS.issuer) if method == METHOD else None

    async def fetch(url: str) -> dict | None:
        return lists.get(url)

    def parallel(url: str) -> str:
        return url.replace("revocation-", "suspension-")

    now = T0 + timedelta(days=1)
    await verification.verify_credential(signed[0], now, resolve, fetch, parallel)  # warm-up
    for label in ("verify (all checks)", "verify (all, warm)"):
        if label == "verify (all checks)":
            proof_cache.clear()
        times = []
        start, cpu = time.perf_counter(), time.process_time()
        for doc in signed:
            t = time.perf_counter()
            report = await verification.verify_credential(doc, now, resolve, fetch, parallel)
            times.append(time.perf_counter() - t)
            assert report.verified, report
        rate(label, n, time.perf_counter() - start, time.process_time() - cpu, times)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="credentials per measurement")
    asyncio.run(main(parser.parse_args().n))
