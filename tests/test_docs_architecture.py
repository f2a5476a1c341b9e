"""docs/architecture.md's suite-key table lists every key a suite file accepts, and no other:
the top level's and those of the ``[grid]``, ``[thresholds]`` and ``[smoke]`` tables."""

from __future__ import annotations

import re
from pathlib import Path

from robustprune.suite import GRID_KEYS, SMOKE_KEYS, THRESHOLD_KEYS, TOP_KEYS

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def key_table_rows() -> dict[str, str]:
    """The suite-key table: each row's first cell -> its second."""
    section = DOC.read_text().split("## Suite files", 1)[1].split("\n\n", 2)[2]
    table = section.split("\n\n", 1)[0]
    return {row.split("|")[1].strip(): row.split("|")[2] for row in table.splitlines()[2:]}


def test_the_suite_key_table_names_every_top_level_key() -> None:
    named = set()
    for cell in key_table_rows():
        named.update(re.findall(r"`\[?([a-z_]+)", cell))
    assert named == set(TOP_KEYS)


def test_the_suite_key_table_names_every_key_of_each_table() -> None:
    rows = key_table_rows()
    for table, keys in {
        "grid": GRID_KEYS,
        "thresholds": THRESHOLD_KEYS,
        "smoke": SMOKE_KEYS,
    }.items():
        meaning = rows[f"`[{table}]`"]
        named = set(re.findall(r"`([a-z_]+)(?: = [^`]*)?`", meaning)) - {table}
        assert named == set(keys), table
