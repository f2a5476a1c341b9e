"""Leaderboard schema, files, tables and comparison (robustprune.leaderboard)."""

from __future__ import annotations

import copy
import csv
import io
from pathlib import Path
from typing import Any

import pytest

from robustprune.leaderboard import (
    SUMMARY_METRICS,
    Gate,
    LeaderboardError,
    compare,
    dumps,
    example_record,
    format_stat,
    load_leaderboard,
    make_leaderboard,
    parse_gate,
    render_comparison,
    render_text,
    validate_leaderboard,
    validate_record,
    write_leaderboard,
)


def board(*records: dict[str, Any]) -> dict[str, Any]:
    return make_leaderboard(records, environment={"device": "cpu"}, created="2026-01-01T00:00:00")


@pytest.fixture
def leaderboard() -> dict[str, Any]:
    return board(*(example_record(method) for method in ("WT", "SiPP", "FT", "PFP")))


def test_example_leaderboard_follows_the_schema(leaderboard: dict[str, Any]) -> None:
    validate_leaderboard(leaderboard)
    assert [record["method"] for record in leaderboard["records"]] == ["FT", "PFP", "SiPP", "WT"]


def test_committed_baselines_follow_the_schema() -> None:
    """Every leaderboard file shipped in benchmarks/baselines/ must load (like torchvision's test)."""
    for path in sorted((Path(__file__).parents[1] / "benchmarks" / "baselines").glob("*.json")):
        load_leaderboard(path)


def corrupt(leaderboard: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(leaderboard)
    target = broken
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return broken


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("records", 3, "summary", "nominal_pp", "mean"), "abc",
         "records[3].summary.nominal_pp.mean: expected a number, got 'abc'"),
        (("records", 1, "summary", "gap", "std"), True,
         "records[1].summary.gap.std: expected a number, got True"),
        (("records", 0, "summary", "gap"), KeyError, "records[0].summary: missing field 'gap'"),
        (("records", 0, "summary", "gap"), None, "records[0].summary.gap: expected an object"),
        (("records", 2, "prune_potential", "nominal", "values", 1), float("nan"),
         "records[2].prune_potential.nominal.values[1]: expected a finite number"),
        (("records", 0, "curve", 1, 2, "accuracy", "nominal"), "0.9",
         "records[0].curve[1][2].accuracy.nominal: expected a number"),
        (("records", 0, "seeds", 0), 0.5, "records[0].seeds[0]: expected an integer"),
        (("records", 0, "method"), "", "records[0].method: expected a non-empty string"),
        (("records", 0, "structured"), 1, "records[0].structured: expected true or false"),
        (("records", 0, "schema"), 2, "records[0].schema: expected 1, got 2"),
        (("records", 0, "timings", "parent_s"), None, "records[0].timings.parent_s: expected a number"),
        (("schema",), "1", "schema: expected 1, got '1'"),
        (("records",), {}, "records: expected a list"),
        (("created",), KeyError, "leaderboard: missing field 'created'"),
    ],
)  # fmt: skip
def test_a_bad_field_is_named(
    leaderboard: dict[str, Any], path: tuple[Any, ...], value: Any, message: str
) -> None:
    with pytest.raises(LeaderboardError) as error:
        validate_leaderboard(corrupt(leaderboard, path, value))
    assert message in str(error.value)


def test_similarity_may_be_null_but_not_a_string() -> None:
    record = example_record()
    validate_record(record)
    record["summary"]["similarity"] = "high"
    with pytest.raises(LeaderboardError, match=r"record\.summary\.similarity: expected an object"):
        validate_record(record)


def test_duplicate_keys_are_rejected(leaderboard: dict[str, Any]) -> None:
    leaderboard["records"].append(copy.deepcopy(leaderboard["records"][0]))
    with pytest.raises(
        LeaderboardError, match=r"records\[4\]: duplicate key digits/digits/resnet20/FT"
    ):
        validate_leaderboard(leaderboard)


def test_make_leaderboard_sorts_and_keeps_the_last_duplicate() -> None:
    first, second = example_record("WT", nominal_pp=(0.1, 0.1)), example_record("WT")
    made = board(example_record("WT", arch="b"), first, second)
    assert [(r["arch"], r["method"]) for r in made["records"]] == [("b", "WT"), ("resnet20", "WT")]
    assert made["records"][1] is second


def test_write_then_load_round_trips(tmp_path: Path, leaderboard: dict[str, Any]) -> None:
    paths = write_leaderboard(leaderboard, tmp_path / "out")
    assert sorted(path.name for path in paths) == [
        "leaderboard.csv", "leaderboard.json", "leaderboard.md",
    ]  # fmt: skip
    assert load_leaderboard(tmp_path / "out" / "leaderboard.json") == leaderboard
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "leaderboard.csv").read_text())))
    assert [row["method"] for row in rows] == ["FT", "PFP", "SiPP", "WT"]
    assert float(rows[0]["nominal_pp_mean"]) == pytest.approx(0.825)
    assert rows[0]["similarity_mean"] == ""
    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "## suite digits · dataset digits · arch resnet20" in markdown
    assert "| PFP " in markdown and "82.5 ± 3.5" in markdown


def test_write_refuses_an_invalid_leaderboard(tmp_path: Path, leaderboard: dict[str, Any]) -> None:
    leaderboard["records"][0]["delta"] = "0.5%"
    with pytest.raises(LeaderboardError, match=r"records\[0\]\.delta"):
        write_leaderboard(leaderboard, tmp_path)
    assert not (tmp_path / "leaderboard.json").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "is not valid JSON"),
        ('{"schema": 1}', "missing field 'created'"),
    ],
)
def test_load_names_the_file_and_the_problem(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(LeaderboardError) as error:
        load_leaderboard(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_text_tables_group_by_dataset_and_arch() -> None:
    text = render_text(board(example_record("WT"), example_record("FT", arch="vgg11_bn")))
    assert text.index("arch resnet20") < text.index("arch vgg11_bn")
    assert "nominal PP %" in text and "excess-err. slope" in text
    assert "0.022 ± 0.004" in text  # slope is not a percentage
    assert render_text(board()) == "(no records)\n"


def test_format_stat() -> None:
    assert format_stat({"mean": 0.825, "std": 0.035}, "nominal_pp") == "82.5 ± 3.5"
    assert format_stat({"mean": 0.0225, "std": 0.0035}, "excess_error_slope") == "0.022 ± 0.004"
    assert format_stat(None, "similarity") == "—"


def test_parse_gate() -> None:
    assert parse_gate("prune_potential:0.05") == Gate("nominal_pp", 0.05)
    assert parse_gate("gap:0") == Gate("gap", 0.0)
    with pytest.raises(ValueError, match="unknown metric 'accuracy'; valid metrics: nominal_pp"):
        parse_gate("accuracy:0.1")
    with pytest.raises(ValueError, match="not METRIC:TOL"):
        parse_gate("nominal_pp")
    with pytest.raises(ValueError, match="tolerance 'x' is not a number"):
        parse_gate("gap:x")
    with pytest.raises(ValueError, match=">= 0"):
        parse_gate("gap:-1")


def test_compare_is_direction_aware() -> None:
    baseline = board(example_record("WT", shifted_pp=(0.45, 0.4)), example_record("FT"))
    current = board(
        example_record(
            "WT", nominal_pp=(0.75, 0.7), shifted_pp=(0.45, 0.4)
        ),  # -10 pp nominal; gap shrinks
        example_record("FT", slope=(0.05, 0.05)),  # steeper excess error
    )
    comparison = compare(baseline, current)
    regressions = {(change.key[3], change.metric) for change in comparison.regressions}
    improvements = {(change.key[3], change.metric) for change in comparison.improvements}
    assert regressions == {("WT", "nominal_pp"), ("WT", "flop_reduction_at_pp"),
                           ("FT", "excess_error_slope")}  # fmt: skip
    assert improvements == {("WT", "gap")}
    slope = next(c for c in comparison.regressions if c.metric == "excess_error_slope")
    assert slope.delta == pytest.approx(0.0275) and slope.worsening == pytest.approx(0.0275)


def test_gates_fail_only_beyond_their_tolerance() -> None:
    comparison = compare(
        board(example_record(shifted_pp=(0.45, 0.4))),
        board(example_record(nominal_pp=(0.8, 0.75), shifted_pp=(0.45, 0.4))),
    )
    assert comparison.failures([Gate("nominal_pp", 0.05)]) == []
    assert len(comparison.failures([Gate("nominal_pp", 0.04)])) == 1
    assert comparison.failures([Gate("gap", 0.0)]) == []  # the gap improved


def test_compare_reports_missing_and_new_cases_and_skips_nulls() -> None:
    with_similarity = example_record("WT")
    with_similarity["summary"]["similarity"] = {"mean": 0.9, "std": 0.0}
    comparison = compare(board(with_similarity, example_record("FT")), board(example_record("WT"),
                         example_record("PFP")))  # fmt: skip
    assert comparison.missing == [("digits", "digits", "resnet20", "FT")]
    assert comparison.new == [("digits", "digits", "resnet20", "PFP")]
    assert comparison.changes == []
    assert comparison.unchanged == len(SUMMARY_METRICS) - 1


def test_render_comparison_lists_regressions_first_and_failed_gates() -> None:
    comparison = compare(
        board(example_record(shifted_pp=(0.45, 0.4))),
        board(example_record(nominal_pp=(0.7, 0.7), shifted_pp=(0.45, 0.4))),
    )
    text = render_comparison(comparison, [parse_gate("prune_potential:0.05")])
    lines = text.splitlines()
    assert lines[0].startswith("2 regression(s), 1 improvement(s)")
    assert "REGRESSION (gate failed)" in lines[3] and "nominal_pp" in lines[3]
    assert "82.5%" in lines[3] and "70.0%" in lines[3] and "-12.5 pp" in lines[3]
    assert "gate nominal_pp:0.05 failed for digits/digits/resnet20/WT" in text
    assert "improvement" in lines[-2]


def test_dumps_is_strict_json(leaderboard: dict[str, Any]) -> None:
    leaderboard["records"][0]["timings"]["parent_s"] = float("inf")
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps(leaderboard)
