"""docs/reliability.md stays true: every row's test exists, and the page shows every row."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.faults import FAULTS, FLOWS, render

ROOT = Path(__file__).resolve().parents[1]


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_every_fault_row_names_a_test_that_exists() -> None:
    missing = []
    for fault in FAULTS:
        file, _, name = fault.test.partition("::")
        if fault.flow not in FLOWS or name not in _test_names(ROOT / file):
            missing.append(fault.test)
    assert missing == []
    assert len({f.test for f in FAULTS}) == len(FAULTS), "one row per test"


def test_the_page_is_generated_from_the_table_and_all_passed() -> None:
    page = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    expected = render({f.test: "passed" for f in FAULTS})
    assert page == expected, ("docs/reliability.md is out of date or shows a failure: "
                              "run scripts/reliability_matrix.py")
