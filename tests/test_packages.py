"""Every package says in its first docstring line what lives there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INITS = sorted(p for top in ("sargeo", "benchmarks") for p in (ROOT / top).rglob("__init__.py"))


@pytest.mark.parametrize("init", INITS, ids=[str(p.parent.relative_to(ROOT)) for p in INITS])
def test_package_docstring_opens_with_a_one_line_summary(init):
    doc = ast.get_docstring(ast.parse(init.read_text()), clean=False)
    assert doc, f"{init}: no docstring"
    lines = doc.splitlines()
    assert lines[0].strip().endswith("."), f"{init}: the first line is not a sentence"
    assert len(lines) == 1 or not lines[1].strip(), f"{init}: the summary runs past one line"
