"""Sample catalog definitions shared by the registry's tests: its integration tests get them
from ``registry_it`` (which ``bench/verify.py`` also imports, with only this folder on its
path), its unit tests as ``integration.registry.registry_samples`` (``tests/`` is on the path:
``tests/conftest.py`` is there)."""

from decimal import Decimal
from typing import Any


def mc_spec_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Wait Time After Questioning",
        "competency": "The educator uses wait time after questions to deepen student thinking.",
        "description": "Plan, teach and reflect on a lesson using deliberate wait time.",
        "criteria_narrative": "Submit a lesson plan, a classroom video and a reflection.",
        "evidence_requirements": [
            {"id": "plan", "kind": "document", "prompt": "Lesson plan", "required": True},
            {"id": "video", "kind": "video", "prompt": "Ten minutes of teaching", "required": True},
            {
                "id": "reflection",
                "kind": "reflection",
                "prompt": "What changed?",
                "required": True,
                "min_words": 200,
                "max_words": 800,
            },
        ],
        "rubric": [
            {
                "id": "planning",
                "name": "Planning",
                "levels": [
                    {"id": "emerging", "name": "Emerging"},
                    {"id": "proficient", "name": "Proficient"},
                    {"id": "exemplary", "name": "Exemplary"},
                ],
                "required_level_id": "proficient",
            },
            {
                "id": "practice",
                "name": "Practice",
                "levels": [
                    {"id": "emerging", "name": "Emerging"},
                    {"id": "proficient", "name": "Proficient"},
                ],
                "required_level_id": "proficient",
            },
        ],
        "credits": {"value": str(Decimal("15")), "unit": "pd_hours"},
        "attempt_cap": 3,
        "completion_window_days": 180,
        "cooldown_days": 30,
        "fee": {"amount_cents": 4000, "payer": "district"},
        "allowed_purposes": ["license_renewal", "curated_pd"],
    }
    data.update(overrides)
    return data


def stack_spec_data(members: list[str], **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Questioning Pathway",
        "description": "Three questioning micro-credentials.",
        "member_micro_credential_ids": members,
        "rule": {"kind": "all_of"},
        "grants": [{"kind": "designation", "code": "lead-questioning", "name": "Lead Educator"}],
    }
    data.update(overrides)
    return data
