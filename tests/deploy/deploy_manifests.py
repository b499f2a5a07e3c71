"""Reading the deployment configuration as a deployer's tools would (the Kubernetes overlays
are rendered by ``deploy_support.render_overlay``): the Compose file with its variables
interpolated as ``docker compose`` does, and the image's own configuration (entrypoint,
environment, user, working directory) from the Dockerfile.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from deploy_support import ROOT

REPO = ROOT


# -- Compose --------------------------------------------------------------------------------

_INTERPOLATION = re.compile(
    r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    """A required variable (``${VAR:?message}``) is not set."""


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation: ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}``, and ``$$`` for a literal ``$``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        present = name in variables
        current = variables.get(name, "")
        if op in (":-", "-"):
            empty = not current if op == ":-" else not present
            return interpolate(arg, variables) if empty else current
        if op in (":?", "?"):
            empty = not current if op == ":?" else not present
            if empty:
                raise InterpolationError(f"{name}: {arg or 'required variable is not set'}")
            return current
        if op in (":+", "+"):
            set_ = bool(current) if op == ":+" else present
            return interpolate(arg, variables) if set_ else ""
        return current

    return _INTERPOLATION.sub(one, value)


def _interpolate_tree(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_tree(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, variables) for key, value in node.items()}
    return node


def load_compose(
    path: Path = REPO / "docker-compose.yml", variables: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The Compose file as ``docker compose config`` would see it with ``variables`` as the
    environment (default: none set, as on a fresh machine without an ``.env`` file); YAML
    merge keys (``<<: *anchor``) are resolved by the loader."""
    raw = yaml.safe_load(path.read_text())
    tree: dict[str, Any] = _interpolate_tree(raw, variables or {})
    return tree


def compose_environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A Compose service's ``environment`` (mapping or ``KEY=value`` list) as strings."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {k: v for k, v in pairs}
    return {k: "" if v is None else str(v) for k, v in env.items()}


# -- the image ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """What the runtime stage of the Dockerfile gives every container of the image."""

    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)
    user: int | None = None
    group: int | None = None
    workdir: str = "/"
    owned_dirs: dict[str, int] = field(default_factory=dict)
    """Folders the image creates and hands to a user (``chown``): a named volume mounted there
    starts with that owner."""


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def load_image(dockerfile: Path = REPO / "Dockerfile") -> Image:
    """The final stage's ENTRYPOINT, CMD, ENV, USER and WORKDIR (exec form only)."""
    steps = _instructions(dockerfile.read_text())
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    entrypoint: list[str] = []
    cmd: list[str] = []
    env: dict[str, str] = {}
    user = group = None
    workdir = "/"
    owned: dict[str, int] = {}
    for word, rest in steps[last_from + 1 :]:
        if word == "ENTRYPOINT":
            entrypoint = json.loads(rest)
        elif word == "CMD":
            cmd = json.loads(rest)
        elif word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
        elif word == "WORKDIR":
            workdir = rest
        elif word == "USER":
            uid, _, gid = rest.partition(":")
            user = int(uid)
            group = int(gid) if gid else user
        elif word == "RUN":
            for uid, folder in re.findall(r"chown\s+(?:-R\s+)?(\d+)(?::\d+)?\s+(\S+)", rest):
                owned[folder] = int(uid)
    return Image(entrypoint, cmd, env, user, group, workdir, owned)
