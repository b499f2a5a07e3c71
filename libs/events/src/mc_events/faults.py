"""Named crash points for fault-injection tests.

``MC_FAULTS`` lists points at which the process kills itself with SIGKILL, the way an OOM kill
or a power cut would end it: no ``finally``, no rollback message, no offset commit.
``MC_FAULTS=relay.after_publish`` crashes the first time that point is reached;
``relay.after_publish@3`` the third time; ``relay.after_publish%0.05`` with probability 0.05 each
time (chaos runs). Unset, :func:`crash_point` is a set lookup and nothing else.
"""

from __future__ import annotations

import os
import random
import signal
import sys

_counts: dict[str, int] = {}


def _parse(spec: str) -> dict[str, tuple[int | None, float | None]]:
    points: dict[str, tuple[int | None, float | None]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        if "%" in item:
            name, prob = item.split("%", 1)
            points[name] = (None, float(prob))
        elif "@" in item:
            name, nth = item.split("@", 1)
            points[name] = (int(nth), None)
        else:
            points[item] = (1, None)
    return points


_POINTS = _parse(os.environ.get("MC_FAULTS", ""))


def crash_point(name: str) -> None:
    """Kill this process here if ``MC_FAULTS`` names this point (see module doc)."""
    if name not in _POINTS:
        return
    nth, probability = _POINTS[name]
    _counts[name] = _counts.get(name, 0) + 1
    # A chaos run draws crash moments at random: not a security use of randomness.
    hit = (
        random.random() < probability  # noqa: S311
        if probability is not None
        else _counts[name] == nth
    )
    if hit:
        sys.stderr.write(f"fault injection: SIGKILL at {name}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
