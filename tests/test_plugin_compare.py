"""Regression gates: --rp-compare with --rp-compare-fail turns a regression into a failed session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robustprune.leaderboard import dumps, example_record, make_leaderboard

pytest_plugins = ["pytester"]

BENCHMARK = """
import pytest
from robustprune.leaderboard import example_record

@pytest.mark.parametrize("method", ["WT", "FT"], ids=["digits-resnet20-WT", "digits-resnet20-FT"])
def test_prune_potential(method, rp_record):
    nominal = {"WT": (0.8, 0.8), "FT": (0.5, 0.5)}[method]
    rp_record(example_record(method, nominal_pp=nominal, shifted_pp=(0.3, 0.3)))
"""


@pytest.fixture
def baseline(pytester: pytest.Pytester) -> Path:
    """WT 0.9 -> 0.8 (a 10-point regression), FT 0.45 -> 0.5 (an improvement)."""
    pytester.makepyfile(test_bench=BENCHMARK)
    records = [
        example_record("WT", nominal_pp=(0.9, 0.9), shifted_pp=(0.3, 0.3)),
        example_record("FT", nominal_pp=(0.45, 0.45), shifted_pp=(0.3, 0.3)),
    ]
    path = pytester.path / "baseline.json"
    path.write_text(dumps(make_leaderboard(records)))
    return path


def test_a_regression_beyond_the_tolerance_fails_the_session(
    pytester: pytest.Pytester, baseline: Path
) -> None:
    result = pytester.runpytest(
        f"--rp-compare={baseline}", "--rp-compare-fail=prune_potential:0.05"
    )
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"*robustprune comparison with {baseline}*",
            "*regression(s), * improvement(s)*",
            "case*metric*baseline*current*delta*worse by*status",
            "*",
            "digits/digits/resnet20/WT*nominal_pp*90.0%*80.0%*-10.0 pp*+10.0*REGRESSION (gate "
            "failed)",
            "*digits/digits/resnet20/FT*nominal_pp*45.0%*50.0%*+5.0 pp*-5.0*improvement",
            "*",
            "gate prune_potential:0.05 failed for digits/digits/resnet20/WT (nominal_pp): 90.0% -> "
            "80.0%, worse by 10.0 pp, at least 10.0 pp with 95 % confidence (seed level), more "
            "than the tolerance 5.0 pp",
            "robustprune: 1 regression gate(s) failed; the session fails (exit status 1)",
        ]
    )


def test_the_gate_also_fails_under_xdist(pytester: pytest.Pytester, baseline: Path) -> None:
    result = pytester.runpytest(
        "-n", "2", f"--rp-compare={baseline}", "--rp-compare-fail=nominal_pp:0.05"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 regression gate(s) failed*"])


def test_a_regression_within_the_tolerance_passes(
    pytester: pytest.Pytester, baseline: Path
) -> None:
    result = pytester.runpytest(
        f"--rp-compare={baseline}",
        "--rp-compare-fail=prune_potential:0.15",
        "--rp-compare-fail=shifted_pp_mean:0.05",
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*nominal_pp*REGRESSION"])
    assert "gate failed" not in result.stdout.str()


def test_compare_without_gates_only_reports(pytester: pytest.Pytester, baseline: Path) -> None:
    result = pytester.runpytest(f"--rp-compare={baseline}")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*REGRESSION*"])


def test_a_failing_case_keeps_exit_status_one(pytester: pytest.Pytester, baseline: Path) -> None:
    pytester.makepyfile(test_other="def test_broken():\n    assert False\n")
    result = pytester.runpytest(f"--rp-compare={baseline}", "--rp-compare-fail=nominal_pp:0.05")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("[1, 2", "is not valid JSON"),
        (json.dumps({"schema": 1, "created": "x", "environment": {}, "records": [{"schema": 1}]}),
         "records[[]0[]]: missing field 'suite'"),
    ],
)  # fmt: skip
def test_a_malformed_baseline_is_a_usage_error(
    pytester: pytest.Pytester, content: str | None, message: str
) -> None:
    pytester.makepyfile(test_bench=BENCHMARK)
    path = pytester.path / "bad.json"
    if content is not None:
        path.write_text(content)
    result = pytester.runpytest(f"--rp-compare={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--rp-compare: leaderboard file '{path}'*{message}*"])


def test_an_unknown_gate_metric_lists_the_valid_ones(
    pytester: pytest.Pytester, baseline: Path
) -> None:
    result = pytester.runpytest(f"--rp-compare={baseline}", "--rp-compare-fail=accuracy:0.1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--rp-compare-fail: unknown metric 'accuracy'; valid metrics: nominal_pp, shifted_pp_mean,*"
        ]
    )


def test_a_gate_needs_a_baseline(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bench=BENCHMARK)
    result = pytester.runpytest("--rp-compare-fail=gap:0.1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rp-compare-fail needs a baseline: add --rp-compare*"])


def test_no_records_are_not_compared(pytester: pytest.Pytester, baseline: Path) -> None:
    result = pytester.runpytest(f"--rp-compare={baseline}", "-k", "none")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["*no records were collected; nothing compared with the baseline*"])


def test_a_gate_with_no_records_fails(pytester: pytest.Pytester, baseline: Path) -> None:
    result = pytester.runpytest(
        f"--rp-compare={baseline}", "--rp-compare-fail=gap:0.05", "-k", "none"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*the gate found no case in common with the baseline*fails*"])


def test_a_gate_with_no_case_in_common_fails(pytester: pytest.Pytester) -> None:
    """A baseline of another suite (or another architecture) must not let the gate pass."""
    pytester.makepyfile(test_bench=BENCHMARK)
    path = pytester.path / "other.json"
    path.write_text(dumps(make_leaderboard([example_record("WT", arch="vgg16")])))
    result = pytester.runpytest(f"--rp-compare={path}", "--rp-compare-fail=prune_potential:5%")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "gate prune_potential:5% found no case in common with the baseline (baseline: "
            "digits/digits/vgg16/WT; this run: digits/digits/resnet20/FT, "
            "digits/digits/resnet20/WT)*",
            "robustprune: 1 regression gate(s) failed*",
        ]
    )


def test_a_gate_on_a_metric_the_baseline_lacks_is_a_usage_error(
    pytester: pytest.Pytester, baseline: Path
) -> None:
    result = pytester.runpytest(f"--rp-compare={baseline}", "--rp-compare-fail=accuracy_change:1%")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--rp-compare-fail: gate accuracy_change:1%: no baseline record has "
         "nominal_accuracy_change, shifted_accuracy_change*regenerate the baseline*"]
    )  # fmt: skip
