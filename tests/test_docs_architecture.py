"""docs/architecture.md's suite-key table lists every key a suite file accepts, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from robustprune.suite import TOP_KEYS

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def test_the_suite_key_table_names_every_top_level_key() -> None:
    section = DOC.read_text().split("## Suite files", 1)[1].split("\n\n", 2)[2]
    table = section.split("\n\n", 1)[0]
    first_cells = [row.split("|")[1] for row in table.splitlines()[2:]]
    named = set()
    for cell in first_cells:
        for key in re.findall(r"`\[?([a-z_]+)", cell):
            named.add(key)
    assert named == set(TOP_KEYS)
