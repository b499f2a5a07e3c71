"""No float ever touches money in the compensation service: a lint over its source (and its
migrations) that refuses float literals, the ``float`` type, and true division (``/`` turns two
integers into a float; cents use ``//`` and ``divmod``). Path joins (``path / "name"``) are the
one allowed use of ``/``."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[3] / "services" / "compensation"


def float_uses(source: str, filename: str = "<string>") -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, float | complex):
            problems.append(f"{where}: float literal {node.value!r}")
        elif isinstance(node, ast.Name) and node.id == "float":
            problems.append(f"{where}: the float type")
        elif isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.Div):
            operands = [node.left, node.right] if isinstance(node, ast.BinOp) else [node.value]
            path_join = any(
                isinstance(o, ast.Constant) and isinstance(o.value, str) for o in operands
            )
            if not path_join:
                problems.append(f"{where}: true division")
    return problems


def test_the_lint_catches_floats():
    assert float_uses("amount = cents / 100")
    assert float_uses("amount = 10.5")
    assert float_uses("x = float(cents)")
    assert float_uses("total /= 2")
    assert not float_uses("dollars, rest = divmod(cents, 100)\nhalf = cents // 2")
    assert not float_uses('path = root / "migrations"')


def test_no_float_touches_money_in_the_compensation_service():
    files = sorted(SERVICE.rglob("*.py"))
    assert len(files) > 10
    problems = [p for f in files for p in float_uses(f.read_text(), str(f.relative_to(SERVICE)))]
    assert problems == []
