"""Leaderboards as data: records -> validated files -> tables -> comparisons against a baseline.

Used by the pytest plugin and by the ``robustprune`` command line; imports neither torch nor
pytest. The schema is described in docs/records.md.
"""

from __future__ import annotations

from robustprune.leaderboard.compare import (
    Change,
    Comparison,
    Gate,
    GateError,
    case_gate_failures,
    check_gates,
    compare,
    compare_records,
    gate_argument,
    grid_step,
    higher_is_better,
    parse_gate,
    render_comparison,
    settings_differences,
    suite_differences,
)
from robustprune.leaderboard.examples import example_record
from robustprune.leaderboard.files import (
    dumps,
    environment_info,
    load_leaderboard,
    make_leaderboard,
    write_leaderboard,
)
from robustprune.leaderboard.schema import (
    ALL_METRICS,
    KEY_FIELDS,
    LOWER_IS_BETTER,
    METRIC_ALIASES,
    METRIC_GROUPS,
    SCHEMA,
    SUMMARY_METRICS,
    SUPPORTED_SCHEMAS,
    Key,
    LeaderboardError,
    canonical_metric,
    record_key,
    reproducible_part,
    similarity_key,
    validate_leaderboard,
    validate_record,
)
from robustprune.leaderboard.tables import (
    format_stat,
    group_tables,
    render_csv,
    render_markdown,
    render_text,
)

__all__ = [
    "ALL_METRICS",
    "KEY_FIELDS",
    "LOWER_IS_BETTER",
    "METRIC_ALIASES",
    "METRIC_GROUPS",
    "SCHEMA",
    "SUMMARY_METRICS",
    "SUPPORTED_SCHEMAS",
    "Change",
    "Comparison",
    "Gate",
    "GateError",
    "Key",
    "LeaderboardError",
    "canonical_metric",
    "case_gate_failures",
    "check_gates",
    "compare",
    "compare_records",
    "dumps",
    "environment_info",
    "example_record",
    "format_stat",
    "gate_argument",
    "grid_step",
    "higher_is_better",
    "group_tables",
    "load_leaderboard",
    "make_leaderboard",
    "parse_gate",
    "record_key",
    "reproducible_part",
    "similarity_key",
    "render_comparison",
    "render_csv",
    "render_markdown",
    "render_text",
    "settings_differences",
    "suite_differences",
    "validate_leaderboard",
    "validate_record",
    "write_leaderboard",
]
