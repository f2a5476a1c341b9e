"""The README's pruner example is the one docs/pruning.md gives, which tests/test_wheel.py
installs from a wheel and runs through the benchmark: the two copies must not drift apart."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_block(path: Path, first_line: str) -> str:
    """The code of the fenced python block of ``path`` whose first line is ``first_line``,
    without that line."""
    text = path.read_text()
    found = re.search(r"```python\n" + re.escape(first_line) + r"\n(.*?)```", text, re.S)
    assert found, f"{path.name} has no python block starting {first_line!r}"
    return found.group(1)


def test_the_readme_pruner_is_the_documented_one() -> None:
    readme = python_block(ROOT / "README.md", "# randprune/randprune/__init__.py")
    documented = python_block(ROOT / "docs" / "pruning.md", "# randprune/__init__.py")
    assert readme == documented
