"""POST /credentials/verify: the domain's checks with this registry's resolvers.

Keys and status lists are resolved the way a verifier with pinned documents does, without
the network: a verification method or status list under this registry's public URL is read
from the registry's own records (the same documents its public URLs serve); an Ed25519
``did:key`` resolves by itself; anything else cannot be resolved here, so another issuer's
HTTP key fails the proof and a foreign status list leaves the status unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from registry.domain import openbadges, verification
from registry.service_layer.signing import (
    REVOCATION_PREFIX,
    SUSPENSION_PREFIX,
    Issuance,
    key_id_of,
    public_key,
    signed_status_list,
)
from registry.service_layer.unit_of_work import UnitOfWork


def suspension_list_for(urls: openbadges.PublicUrls, revocation_url: str) -> str | None:
    prefix = urls.status_list("")
    list_id = revocation_url.removeprefix(prefix)
    if not revocation_url.startswith(prefix) or not list_id.startswith(REVOCATION_PREFIX):
        return None
    return urls.status_list(SUSPENSION_PREFIX + list_id.removeprefix(REVOCATION_PREFIX))


async def verify(
    uow: UnitOfWork,
    document: Mapping[str, Any],
    urls: openbadges.PublicUrls,
    issuance: Issuance,
    now: datetime,
) -> verification.Report:
    async with uow:
        session = uow.session

        async def resolve_key(method: str) -> verification.ResolvedKey | None:
            if (self_resolving := verification.did_key(method)) is not None:
                return self_resolving
            key_id = key_id_of(urls, method)
            key = await public_key(session, key_id) if key_id else None
            if key is None:
                return None
            return verification.ResolvedKey(public_key=key.public_key, controller=urls.issuer)

        async def fetch(url: str) -> Mapping[str, Any] | None:
            prefix = urls.status_list("")
            list_id = url.removeprefix(prefix)
            if not url.startswith(prefix) or not list_id or "/" in list_id:
                return None
            return await signed_status_list(session, issuance, urls, list_id, now)

        report = await verification.verify_credential(
            document, now, resolve_key, fetch, lambda url: suspension_list_for(urls, url)
        )
        await uow.commit()  # the first signing key, if a status list made one
    return report
