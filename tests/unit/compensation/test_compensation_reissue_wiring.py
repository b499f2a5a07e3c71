"""The compensation service follows reissues: it consumes ``registry.credential_reissued`` from
the topic it subscribes to, and its migration follows the previous one (one head)."""

from __future__ import annotations

import ast

from compensation.bootstrap import MIGRATIONS, build
from compensation.entrypoints.consumer import build_handlers
from mc_events import topics
from mc_events.contracts.registry import CredentialReissued


def test_reissues_are_handled_on_a_subscribed_topic():
    service = build()
    assert CredentialReissued in build_handlers()
    assert CredentialReissued.topic == topics.CREDENTIALS.name
    assert topics.CREDENTIALS in service.subscribes


def _revisions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        values = {
            target.id: node.value.value
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        found[values["revision"]] = values.get("down_revision")
    return found


def test_the_reissue_migration_follows_the_last_one_and_is_the_only_head():
    revisions = _revisions()
    assert revisions["0006"] == "0005"
    heads = set(revisions) - {down for down in revisions.values() if down}
    assert len(heads) == 1, heads
