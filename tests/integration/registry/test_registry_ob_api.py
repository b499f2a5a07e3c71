"""The Open Badges 3.0 API of the registry (/ims/ob/v3p0): an educator's token with the
``credential.readonly`` scope reads their own signed credentials, paged with X-Total-Count and
Link headers; ``profile.readonly`` reads their profile; the discovery document is public and
offers only the read scopes. Refusals: no token 401, another role or a missing scope 403 with
an ``Imsx_StatusInfo`` body."""

# The fixtures are imported from registry_it (no conftest.py here: it would shadow the
# ``conftest`` module other integration tests import), so test parameters redefine them.
# ruff: noqa: F811

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from registry_it import (  # noqa: F401  (actors, registry: fixtures)
    Actors,
    actors,
    decided,
    mc_spec_data,
    processed,
    publish,
    registry,
)

from mc_devstack.testing import RunningService, unique_name
from mc_platform.auth import Role
from registry.config import Settings
from registry.domain.awards import credential_id_for

API = "/ims/ob/v3p0"
READ_CREDENTIALS = "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly"
READ_PROFILE = "https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.readonly"
UPSERT = "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.upsert"
UPDATE_PROFILE = "https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.update"


def educator(svc: RunningService, educator_id: str, *scopes: str) -> dict[str, str]:
    return svc.auth(educator_id, Role.EDUCATOR, educator_id=educator_id, scope=" ".join(scopes))


async def award(svc: RunningService, mc_id: str, educator_id: str) -> str:
    decision = decided(mc_id, educator_id=educator_id)
    assert await processed(svc, await publish(svc, decision))
    return f"urn:uuid:{credential_id_for(decision.enrollment_id)}"


def links(response: httpx.Response) -> dict[str, tuple[int, int]]:
    """rel -> (limit, offset) of the RFC 8288 Link header."""
    found: dict[str, tuple[int, int]] = {}
    for part in response.headers["link"].split(","):
        match = re.fullmatch(
            r'\s*<https?://[^>]+/ims/ob/v3p0/credentials\?limit=(\d+)&offset=(\d+)>;\s*rel="(\w+)"',
            part,
        )
        assert match, part
        assert match[3] not in found, part
        found[match[3]] = (int(match[1]), int(match[2]))
    return found


def assert_imsx_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_severity"] == "error"
    assert body["imsx_description"]


async def test_an_educator_reads_only_their_own_credentials_page_by_page(
    registry: RunningService, actors: Actors
) -> None:
    mc_id = await actors.published_mc(mc_spec_data())
    me, other = unique_name("ED"), unique_name("ED")
    mine = [await award(registry, mc_id, me) for _ in range(5)]
    theirs = await award(registry, mc_id, other)
    headers = educator(registry, me, READ_CREDENTIALS)

    seen: list[str] = []
    expected_links = {
        0: {"next": (2, 2), "last": (2, 4), "first": (2, 0)},
        2: {"next": (2, 4), "last": (2, 4), "first": (2, 0), "prev": (2, 0)},
        4: {"last": (2, 4), "first": (2, 0), "prev": (2, 2)},
    }
    for offset, expected in expected_links.items():
        r = await registry.client.get(
            f"{API}/credentials", params={"limit": 2, "offset": offset}, headers=headers
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-total-count"] == "5"
        assert links(r) == expected
        page = r.json()["credential"]
        assert len(page) == (1 if offset == 4 else 2)
        seen += [c["id"] for c in page]
    assert sorted(seen) == sorted(mine)  # each once, none of the other educator's
    assert theirs not in seen

    # An offset between pages: prev goes back one page (not below zero), next on from it.
    r = await registry.client.get(f"{API}/credentials?limit=2&offset=1", headers=headers)
    assert links(r) == {"next": (2, 3), "last": (2, 4), "first": (2, 0), "prev": (2, 0)}
    assert [c["id"] for c in r.json()["credential"]] == seen[1:3]

    # Each is the signed document the registry serves publicly, as it is served.
    r = await registry.client.get(f"{API}/credentials", headers=headers)
    assert r.status_code == 200, r.text
    for document in r.json()["credential"]:
        credential_id = document["id"].removeprefix("urn:uuid:")
        public = await registry.client.get(f"/credentials/{credential_id}")
        assert public.json() == document
        assert document["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"

    # The other educator sees theirs alone.
    r = await registry.client.get(
        f"{API}/credentials", headers=educator(registry, other, READ_CREDENTIALS)
    )
    assert [c["id"] for c in r.json()["credential"]] == [theirs]
    assert r.headers["x-total-count"] == "1"
    assert links(r) == {"last": (20, 0), "first": (20, 0)}


async def test_past_the_end_and_with_nothing_held_the_page_is_empty_and_links_stay_valid(
    registry: RunningService, actors: Actors
) -> None:
    mc_id = await actors.published_mc(mc_spec_data())
    me = unique_name("ED")
    await award(registry, mc_id, me)
    r = await registry.client.get(
        f"{API}/credentials?limit=10&offset=30", headers=educator(registry, me, READ_CREDENTIALS)
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"credential": []}
    assert r.headers["x-total-count"] == "1"
    assert links(r) == {"last": (10, 0), "first": (10, 0), "prev": (10, 20)}

    nobody = educator(registry, unique_name("ED"), READ_CREDENTIALS)
    r = await registry.client.get(f"{API}/credentials", headers=nobody)
    assert r.status_code == 200, r.text
    assert r.json() == {"credential": []}
    assert r.headers["x-total-count"] == "0"
    assert links(r) == {"last": (20, 0), "first": (20, 0)}


async def test_a_reissued_credential_is_listed_once_as_its_successor(
    registry: RunningService, actors: Actors
) -> None:
    mc_id = await actors.published_mc(mc_spec_data())
    me = unique_name("ED")
    original = await award(registry, mc_id, me)
    r = await registry.client.post(
        f"/credentials/{original.removeprefix('urn:uuid:')}/reissue",
        json={"reason": "name corrected"},
        headers=actors.admin,
    )
    assert r.status_code in (200, 201), r.text
    successor = f"urn:uuid:{r.json()['credential_id']}"
    r = await registry.client.get(
        f"{API}/credentials", headers=educator(registry, me, READ_CREDENTIALS)
    )
    assert [c["id"] for c in r.json()["credential"]] == [successor]
    assert r.headers["x-total-count"] == "1"


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "offset=-1", "limit=ten", "offset=1000001"]
)
async def test_paging_outside_its_bounds_is_422(registry: RunningService, query: str) -> None:
    r = await registry.client.get(
        f"{API}/credentials?{query}", headers=educator(registry, "ED-1", READ_CREDENTIALS)
    )
    assert r.status_code == 422, r.text


async def test_the_limit_may_be_the_cap(registry: RunningService) -> None:
    r = await registry.client.get(
        f"{API}/credentials?limit=100", headers=educator(registry, "ED-1", READ_CREDENTIALS)
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("path", "needed", "other"),
    [("credentials", READ_CREDENTIALS, READ_PROFILE), ("profile", READ_PROFILE, READ_CREDENTIALS)],
)
async def test_each_operation_needs_its_own_scope(
    registry: RunningService, path: str, needed: str, other: str
) -> None:
    for scopes in ((), (other,), (UPSERT, UPDATE_PROFILE)):
        r = await registry.client.get(f"{API}/{path}", headers=educator(registry, "ED-1", *scopes))
        assert_imsx_forbidden(r)
        assert "insufficient_scope" in r.headers["www-authenticate"]
        assert needed in r.json()["imsx_description"]
    r = await registry.client.get(f"{API}/{path}", headers=educator(registry, "ED-1", needed))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["credentials", "profile"])
async def test_only_an_educator_named_by_the_token_gets_through(
    registry: RunningService, path: str
) -> None:
    scopes = f"{READ_CREDENTIALS} {READ_PROFILE}"
    for role in sorted(set(Role) - {Role.EDUCATOR}):
        # Every claim an educator would have, and the scopes: only the role is wrong.
        headers = registry.auth("x", role, educator_id="ED-1", scope=scopes)
        assert_imsx_forbidden(await registry.client.get(f"{API}/{path}", headers=headers))
    no_id = registry.auth("x", Role.EDUCATOR, scope=scopes)
    assert_imsx_forbidden(await registry.client.get(f"{API}/{path}", headers=no_id))

    r = await registry.client.get(f"{API}/{path}")
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_the_profile_names_the_educator_by_their_state_id(registry: RunningService) -> None:
    me = unique_name("ED")
    r = await registry.client.get(f"{API}/profile", headers=educator(registry, me, READ_PROFILE))
    assert r.status_code == 200, r.text
    profile: dict[str, Any] = r.json()
    assert profile["@context"] == ["https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert profile["type"] == ["Profile"]
    assert profile["id"] == f"urn:state-educator-id:{me}"
    assert profile["otherIdentifier"] == [
        {"type": "IdentifierEntry", "identifier": me, "identifierType": "identifier"}
    ]
    # Nothing the registry does not hold (no name, no email).
    assert set(profile) == {"@context", "id", "type", "otherIdentifier"}


async def test_discovery_is_public_and_offers_only_the_read_scopes(
    registry: RunningService,
) -> None:
    r = await registry.client.get(f"{API}/discovery")
    assert r.status_code == 200, r.text
    document = r.json()
    assert document["openapi"].startswith("3.0")
    settings = registry.definition.settings
    assert isinstance(settings, Settings)
    public_base = settings.public_base_url.rstrip("/")
    assert document["servers"] == [{"url": f"{public_base}{API}"}]
    assert set(document["paths"]) == {"/credentials", "/profile", "/discovery"}
    assert list(document["paths"]["/credentials"]) == ["get"]  # no upsert
    assert list(document["paths"]["/profile"]) == ["get"]  # no update
    assert document["paths"]["/credentials"]["get"]["security"] == [
        {"OAuth2ACG": [READ_CREDENTIALS]}
    ]
    assert document["paths"]["/profile"]["get"]["security"] == [{"OAuth2ACG": [READ_PROFILE]}]
    assert set(document["x-ob-scopes"]) == {READ_CREDENTIALS, READ_PROFILE}
    scheme = document["components"]["securitySchemes"]["OAuth2ACG"]
    assert scheme["type"] == "openIdConnect"
    assert scheme["openIdConnectUrl"] == (
        f"{registry.issuer.issuer}/.well-known/openid-configuration"
    )
    assert UPSERT not in r.text
    assert UPDATE_PROFILE not in r.text
