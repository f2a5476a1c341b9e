"""Leaderboard schema, files, tables and comparison (robustprune.leaderboard)."""

from __future__ import annotations

import copy
import csv
import io
from pathlib import Path
from typing import Any

import pytest

from robustprune.baselines import list_baselines, shipped_baseline
from robustprune.leaderboard import (
    SUMMARY_METRICS,
    Gate,
    GateError,
    LeaderboardError,
    case_gate_failures,
    check_gates,
    compare,
    dumps,
    example_record,
    format_stat,
    grid_step,
    load_leaderboard,
    make_leaderboard,
    parse_gate,
    render_comparison,
    render_csv,
    render_text,
    reproducible_part,
    similarity_key,
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
    """Every shipped baseline (robustprune/baselines/) must load (like torchvision's test)."""
    assert list_baselines(), "no shipped baseline found"
    for name in list_baselines():
        load_leaderboard(shipped_baseline(name))


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
        (("records", 0, "summary", "nominal_pp"), None,
         "records[0].summary.nominal_pp: expected an object"),
        (("records", 0, "summary", "gap", "ci"), [0.5, 0.1],
         "records[0].summary.gap.ci: expected [low, high] with low <= high"),
        (("records", 0, "degenerate", "corruption:fog:3"), 1,
         "records[0].degenerate.corruption:fog:3: expected a string (the reason)"),
        (("records", 2, "prune_potential", "nominal", "values", 1), float("nan"),
         "records[2].prune_potential.nominal.values[1]: expected a finite number"),
        (("records", 0, "curve", 1, 2, "accuracy", "nominal"), "0.9",
         "records[0].curve[1][2].accuracy.nominal: expected a number"),
        (("records", 0, "seeds", 0), 0.5, "records[0].seeds[0]: expected an integer"),
        (("records", 0, "method"), "", "records[0].method: expected a non-empty string"),
        (("records", 0, "structured"), 1, "records[0].structured: expected true or false"),
        (("records", 0, "schema"), 3, "records[0].schema: expected one of [1, 2], got 3"),
        (("records", 0, "timings", "parent_s"), None, "records[0].timings.parent_s: expected a number"),
        (("schema",), "1", "schema: expected one of [1, 2], got '1'"),
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


def test_similarity_curves_are_keyed_by_the_ratio_with_four_decimals() -> None:
    assert [similarity_key(r) for r in (0.5, 0.12345, 0, 0.99996)] == [
        "0.5000", "0.1235", "0.0000", "1.0000"
    ]  # fmt: skip
    for text in ("0.3000", "0.9125"):
        assert similarity_key(float(text)) == text


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
    assert "| PFP " in markdown and "82.5 [80.0, 85.0]" in markdown
    assert "bootstrap over test examples and seeds" in markdown
    assert float(rows[0]["gap_ci_low"]) == pytest.approx(0.4)
    assert rows[0]["excluded_shifts"] == ""


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
    assert "0.022 [0.020, 0.025]" in text  # slope is not a percentage
    assert "95% CI: bootstrap over test examples and seeds" in text
    assert render_text(board()) == "(no records)\n"


def test_format_stat() -> None:
    assert format_stat({"mean": 0.825, "std": 0.035}, "nominal_pp") == "82.5 ± 3.5"
    assert (
        format_stat({"mean": 0.825, "std": 0.03, "ci": [0.8, 0.85]}, "gap") == "82.5 [80.0, 85.0]"
    )
    assert format_stat({"mean": 0.0225, "std": 0.0035}, "excess_error_slope") == "0.022 ± 0.004"
    assert format_stat(None, "similarity") == "—"


def test_parse_gate() -> None:
    assert parse_gate("prune_potential:0.05") == Gate("prune_potential", 0.05)
    assert parse_gate("prune_potential:0.05").metrics == ("nominal_pp", "shifted_pp_mean")
    assert parse_gate("accuracy_change:1%").metrics == (
        "nominal_accuracy_change", "shifted_accuracy_change",
    )  # fmt: skip
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
    assert regressions == {("WT", "nominal_pp"), ("WT", "flop_reduction_at_pp"), ("WT", "gap"),
                           ("FT", "excess_error_slope")}  # fmt: skip
    assert comparison.improvements == []  # the shrinking gap came from nominal PP falling
    slope = next(c for c in comparison.regressions if c.metric == "excess_error_slope")
    assert slope.delta == pytest.approx(0.0275) and slope.worsening == pytest.approx(0.0275)
    gap = next(c for c in comparison.regressions if c.metric == "gap")
    assert gap.delta == pytest.approx(-0.1) and gap.worsening == pytest.approx(0.1)


def test_gates_fail_only_beyond_their_tolerance() -> None:
    comparison = compare(
        board(example_record(shifted_pp=(0.45, 0.4))),
        board(example_record(nominal_pp=(0.8, 0.75), shifted_pp=(0.45, 0.4))),
    )
    # worse by 5 pp, at least 5 - 2.97 = 2.03 pp with 95 % confidence (seed level)
    nominal = next(c for c in comparison.changes if c.metric == "nominal_pp")
    assert nominal.lower == pytest.approx(0.05 - 1.6449 * 2**0.5 * 0.025 / 1.96, abs=1e-4)
    assert comparison.failures([Gate("nominal_pp", 0.025)]) == []
    assert len(comparison.failures([Gate("nominal_pp", 0.015)])) == 1
    assert len(comparison.failures([Gate("gap", 0.015)])) == 1  # the gap shrank: nominal fell


def test_compare_reports_missing_and_new_cases_and_skips_nulls() -> None:
    with_similarity = example_record("WT")
    with_similarity["summary"]["similarity"] = {"mean": 0.9, "std": 0.0}
    comparison = compare(board(with_similarity, example_record("FT")), board(example_record("WT"),
                         example_record("PFP")))  # fmt: skip
    assert comparison.missing == [("digits", "digits", "resnet20", "FT")]
    assert comparison.new == [("digits", "digits", "resnet20", "PFP")]
    assert comparison.changes == []
    assert comparison.unchanged == len(SUMMARY_METRICS) - 1  # no similarity in the current


def test_render_comparison_lists_regressions_first_and_failed_gates() -> None:
    comparison = compare(
        board(example_record(shifted_pp=(0.45, 0.4))),
        board(example_record(nominal_pp=(0.7, 0.7), shifted_pp=(0.45, 0.4))),
    )
    text = render_comparison(comparison, [parse_gate("prune_potential:0.05")])
    lines = text.splitlines()
    assert lines[0].startswith("3 regression(s), 0 improvement(s)")
    assert "REGRESSION (gate failed)" in lines[3] and "nominal_pp" in lines[3]
    assert "82.5%" in lines[3] and "70.0%" in lines[3] and "-12.5 pp" in lines[3]
    assert "+12.5 [+9.5, +15.5]" in lines[3] and "seed level" in lines[3]
    assert "gate prune_potential:0.05 failed for digits/digits/resnet20/WT (nominal_pp)" in text


def test_dumps_is_strict_json(leaderboard: dict[str, Any]) -> None:
    leaderboard["records"][0]["timings"]["parent_s"] = float("inf")
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps(leaderboard)


def test_percent_tolerances_are_percentage_points() -> None:
    assert parse_gate("prune_potential:5%") == Gate("prune_potential", 0.05)
    assert str(parse_gate("prune_potential:5%")) == "prune_potential:5%"
    assert parse_gate("gap:2.5%").tolerance == pytest.approx(0.025)
    with pytest.raises(ValueError, match="excess_error_slope is not a percentage metric"):
        parse_gate("excess_error_slope:5%")
    with pytest.raises(ValueError, match="not a number or a percentage"):
        parse_gate("gap:five%")


def test_a_gate_on_a_metric_the_baseline_lacks_is_refused_before_the_run() -> None:
    baseline = board(example_record(ratios=(0.3, 0.59, 0.76, 0.86, 0.92, 0.95)))
    check_gates([parse_gate("prune_potential:0"), parse_gate("gap:2%")], baseline)
    with pytest.raises(GateError) as error:
        check_gates([parse_gate("accuracy_change:1%")], baseline)
    message = str(error.value)
    assert "gate accuracy_change:1%: no baseline record has nominal_accuracy_change, " in message
    assert "regenerate the baseline, or gate one of: nominal_pp," in message
    assert grid_step(baseline["records"][0]) == pytest.approx((0.03, 0.92, 0.95))


def test_a_change_must_exceed_the_baselines_noise_to_regress() -> None:
    """Baseline interval [0.8, 0.85]: standard error 2.5 / 1.96 pp; a rerun differs by noise
    of sqrt(2) times that, so the one-sided bound is 1.645 x 1.80 = 2.97 pp below the change."""
    change = compare(board(example_record()), board(example_record(nominal_pp=(0.8, 0.75))))
    nominal = next(c for c in change.changes if c.metric == "nominal_pp")
    assert nominal.worsening - nominal.lower == pytest.approx(0.0297, abs=1e-4)
    assert nominal.regression  # 5 pp > 2.97 pp
    wide = compare(board(example_record(nominal_pp=(0.95, 0.7))),
                   board(example_record(nominal_pp=(0.9, 0.65))))  # fmt: skip
    nominal = next(c for c in wide.changes if c.metric == "nominal_pp")
    assert not nominal.regression and nominal.status == "within uncertainty"
    assert wide.failures([Gate("nominal_pp", 0.0)]) == []


def test_a_gate_with_no_case_in_common_fails() -> None:
    comparison = compare(board(example_record(arch="vgg16")), board(example_record()))
    assert comparison.common == 0
    assert comparison.gate_failures([]) == []
    (failure,) = comparison.gate_failures([parse_gate("prune_potential:0.05")])
    assert "found no case in common with the baseline" in failure
    assert "digits/digits/vgg16/WT" in failure and "digits/digits/resnet20/WT" in failure


def test_the_case_gate_is_the_session_gate() -> None:
    """pytest's per-case check and `robustprune compare` use one comparison; prune_potential
    gates nominal PP and shifted PP mean, so a shifted-only drop fails it."""
    old = example_record(nominal_pp=(0.9, 0.9), shifted_pp=(0.6, 0.6))
    new = example_record(nominal_pp=(0.9, 0.9), shifted_pp=(0.3, 0.3))
    assert case_gate_failures(old, new, [parse_gate("nominal_pp:0.05")]) == []
    assert len(case_gate_failures(old, new, [parse_gate("prune_potential:0.05")])) == 1
    (failure,) = case_gate_failures(old, new, [parse_gate("shifted_pp_mean:0.05")])
    session = compare(board(old), board(new)).gate_failures([parse_gate("shifted_pp_mean:0.05")])
    assert session == [failure]
    assert case_gate_failures(None, new, [parse_gate("shifted_pp_mean:0.05")]) == []


def test_schema_1_files_still_load_and_compare(tmp_path: Path) -> None:
    """An old baseline (no intervals, nothing flagged) is read; its std stands in for the CI."""
    old = example_record(nominal_pp=(0.9, 0.8), intervals=False)
    old["schema"] = 1
    for name in ("chance", "degenerate", "uncertainty"):
        del old[name]
    legacy = board(old)
    legacy["schema"] = 1
    path = tmp_path / "old.json"
    path.write_text(dumps(legacy))
    loaded = load_leaderboard(path)
    assert "85.0 ± 7.1" in render_text(loaded)
    change = next(
        c for c in compare(loaded, board(example_record(nominal_pp=(0.7, 0.7)))).changes
        if c.metric == "nominal_pp"
    )  # fmt: skip
    # the std over 2 seeds, 7.07 pp, stands in: standard error 5 pp, bound 1.645 x sqrt(2) x 5
    assert change.worsening - change.lower == pytest.approx(1.6449 * 2**0.5 * 0.05, abs=1e-4)
    assert change.regression


def test_tables_flag_degenerate_shifts() -> None:
    record = example_record()
    record["degenerate"] = {"corruption:gaussian_noise:3": "parent accuracy 9.0% is not clearly "
                            "above chance 10.0% + δ 0.5%"}  # fmt: skip
    text = render_text(board(record))
    assert text.splitlines()[1].rstrip().endswith("excluded shifts")
    assert "gaussian_noise:3" in text.splitlines()[3]
    assert "digits/resnet20: gaussian_noise:3 excluded, parent accuracy 9.0% is not" in text
    rows = list(csv.DictReader(io.StringIO(render_csv(board(record)))))
    assert rows[0]["excluded_shifts"] == "corruption:gaussian_noise:3"


def test_an_optional_speedup_column_appears_when_a_record_has_it() -> None:
    record = example_record()
    record["summary"]["speedup_at_pp"] = {"mean": 2.5, "std": 0.1, "ci": [2.3, 2.7]}
    validate_record(record)
    assert "speedup at PP ×" in render_text(board(record))
    assert "speedup at PP" not in render_text(board(example_record()))
    assert parse_gate("speedup_at_pp:0.2") == Gate("speedup_at_pp", 0.2)


def test_reproducible_part_drops_only_what_differs_between_runs() -> None:
    first, second = example_record("WT"), example_record("WT")
    second["timings"] = {"parent_s": 99.0, "curve_s": 1.0, "evaluation_s": 2.0}
    second["artifacts"] = {"parent": ["loaded"], "curve": ["loaded"]}
    second["environment"] = {**second["environment"], "hostname": "elsewhere"}
    second["latency"] = {"speedup": {"1": 3.0}}
    second["summary"]["speedup_at_pp"] = {"mean": 3.0}
    assert reproducible_part(first) == reproducible_part(second)
    assert reproducible_part(second)["summary"] == first["summary"]  # speedup_at_pp dropped
    second["summary"]["nominal_pp"] = {**second["summary"]["nominal_pp"], "mean": 0.01}
    assert reproducible_part(first) != reproducible_part(second)
