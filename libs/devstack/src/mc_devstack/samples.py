"""Sample catalog definitions: the one micro-credential and stack the demo, the pipeline
driver, the benchmarks and the tests build on (each overriding what it is about).

    mc_spec_data(title="Wait Time", credits={"value": "15", "unit": "pd_hours"})
"""

from __future__ import annotations

from typing import Any


def mc_spec_data(**overrides: Any) -> dict[str, Any]:
    """A complete micro-credential definition as ``POST /micro-credentials`` takes it: three
    pieces of evidence, a two-criterion rubric, 15 PD hours, district-paid fee."""
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
        "credits": {"value": "15", "unit": "pd_hours"},
        "attempt_cap": 3,
        "completion_window_days": 180,
        "cooldown_days": 30,
        "fee": {"amount_cents": 4000, "payer": "district"},
        "allowed_purposes": ["license_renewal", "curated_pd"],
    }
    data.update(overrides)
    return data


def stack_spec_data(members: list[str], **overrides: Any) -> dict[str, Any]:
    """A stack of ``members`` (all of them required) granting a designation."""
    data: dict[str, Any] = {
        "name": "Questioning Pathway",
        "description": "Three questioning micro-credentials.",
        "member_micro_credential_ids": members,
        "rule": {"kind": "all_of"},
        "grants": [{"kind": "designation", "code": "lead-questioning", "name": "Lead Educator"}],
    }
    data.update(overrides)
    return data
