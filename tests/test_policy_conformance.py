"""Every case of the conformance file reaches the decision AWS documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.iam.policy import CASE_DECISIONS, run_case

CASES_FILE = Path(__file__).resolve().parent / "data" / "conformance" / "iam_policy_cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text())["cases"]


def test_the_file_has_cases() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_conformance_case(case: dict[str, Any]) -> None:
    assert run_case(case) == CASE_DECISIONS[case["expected"]], case["description"]
