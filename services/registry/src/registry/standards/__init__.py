"""Pinned copies of the standards documents the registry checks against (no network at run
time): the 1EdTech Open Badges 3.0 AchievementCredential JSON Schema."""

import json
from functools import cache
from importlib import resources
from typing import Any

OB3_SCHEMA_FILE = "ob_v3p0_achievementcredential_schema.json"


@cache
def ob3_achievement_credential_schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(OB3_SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
