"""Records travel from cases to the controller and become the same leaderboard with any -n."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny import reproducible_records

from robustprune.leaderboard import load_leaderboard, validate_leaderboard

pytest_plugins = ["pytester"]

BENCHMARK = """
import pytest
from robustprune.leaderboard import example_record

CASES = [
    ("resnet20", "WT", (0.85, 0.8)),
    ("resnet20", "FT", (0.55, 0.5)),
    ("resnet20", "PFP", (0.3, 0.2)),   # below the threshold: the case fails, the record stays
    ("vgg11_bn", "WT", (0.9, 0.9)),
    ("vgg11_bn", "SiPP", (0.88, 0.86)),
]

@pytest.mark.parametrize(
    ("arch", "method", "nominal_pp"), CASES, ids=[f"digits-{a}-{m}" for a, m, _ in CASES]
)
def test_prune_potential(arch, method, nominal_pp, rp_record):
    record = example_record(method, arch=arch, nominal_pp=nominal_pp)
    rp_record(record)
    assert record["summary"]["nominal_pp"]["mean"] >= 0.5, "nominal prune potential below 50%"

def test_not_a_benchmark():
    assert True
"""


@pytest.fixture
def bench(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_bench=BENCHMARK)
    return pytester


def test_cases_have_readable_ids_and_filter_with_k(bench: pytest.Pytester) -> None:
    result = bench.runpytest("--collect-only", "-q", "-k", "resnet20 and not PFP")
    result.stdout.fnmatch_lines(
        [
            "test_bench.py::test_prune_potential[[]digits-resnet20-WT[]]",
            "test_bench.py::test_prune_potential[[]digits-resnet20-FT[]]",
            "*2/6 tests collected (4 deselected)*",
        ]
    )
    assert "robustprune leaderboard" not in result.stdout.str()


def test_leaderboard_is_identical_with_and_without_xdist(
    bench: pytest.Pytester, tmp_path: Path
) -> None:
    boards = {}
    for workers in ("0", "2"):
        out = tmp_path / f"n{workers}"
        result = bench.runpytest("-n", workers, "-p", "no:cacheprovider", f"--rp-leaderboard={out}")
        result.assert_outcomes(passed=5, failed=1)
        boards[workers] = load_leaderboard(out / "leaderboard.json")
    assert boards["2"]["environment"]["workers"] == 2
    assert boards["0"]["environment"]["workers"] == 1
    assert reproducible_records(boards["0"]) == reproducible_records(boards["2"])
    keys = [(r["arch"], r["method"]) for r in boards["0"]["records"]]
    assert keys == sorted(keys) and len(keys) == 5
    assert ("resnet20", "PFP") in keys  # the failed case's record is kept


def test_terminal_summary_shows_one_table_per_arch(bench: pytest.Pytester) -> None:
    result = bench.runpytest()
    result.stdout.fnmatch_lines(
        [
            "*= robustprune leaderboard (5 record(s)) =*",
            "suite digits · dataset digits · arch resnet20 · δ = 0.5 points · mean [[]95% CI: *]",
            "method*nominal PP %*shifted PP mean %*shifted PP min %*gap %*excess-err. slope*",
            "*",
            "FT *52.5 [[]50.0, 55.0[]]*",
            "PFP *25.0 [[]20.0, 30.0[]]*",
            "WT *82.5 [[]80.0, 85.0[]]*",
            "",
            "suite digits · dataset digits · arch vgg11_bn*",
            "*",
            "*",
            "SiPP *87.0 [[]86.0, 88.0[]]*",
            "WT *90.0 [[]90.0, 90.0[]]*",
        ]
    )


def test_no_records_means_no_leaderboard_output(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile("def test_plain():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest(f"--rp-leaderboard={tmp_path / 'out'}")
    result.assert_outcomes(passed=1)
    assert "robustprune leaderboard" not in result.stdout.str()
    assert not (tmp_path / "out").exists()


def test_leaderboard_files_are_written_and_valid(bench: pytest.Pytester, tmp_path: Path) -> None:
    result = bench.runpytest(f"--rp-leaderboard={tmp_path}")
    result.stdout.fnmatch_lines([f"wrote {tmp_path / 'leaderboard.json'}"])
    leaderboard = json.loads((tmp_path / "leaderboard.json").read_text())
    validate_leaderboard(leaderboard)
    assert set(leaderboard["environment"]) >= {
        "robustprune",
        "torch",
        "python",
        "device",
        "workers",
    }
    assert leaderboard["environment"]["device"] == "cpu"
    assert (
        "## suite digits · dataset digits · arch vgg11_bn"
        in (tmp_path / "leaderboard.md").read_text()
    )
    assert len((tmp_path / "leaderboard.csv").read_text().splitlines()) == 1 + 5


def test_an_invalid_record_fails_its_case_naming_the_field(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from robustprune.leaderboard import example_record

        def test_bad(rp_record):
            record = example_record()
            record["summary"]["gap"]["mean"] = "wide"
            rp_record(record)

        def test_twice(rp_record):
            rp_record(example_record("FT"))
            rp_record(example_record("FT"))
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*LeaderboardError: invalid record from test_*::test_bad: "
            "record.summary.gap.mean: expected a number, got 'wide'",
            "*rp_record called twice in test_*::test_twice*",
        ]
    )
    result.stdout.fnmatch_lines(["*robustprune leaderboard (1 record(s))*"])  # twice: first kept


def test_two_cases_with_one_key_warn(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from robustprune.leaderboard import example_record

        @pytest.mark.parametrize("n", [1, 2])
        def test_same(n, rp_record):
            rp_record(example_record("WT", nominal_pp=(0.1 * n,)))
        """
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(
        [
            "*leaderboard (1 record(s))*",
            "WT *20.0 [[]20.0, 20.0[]]*",
            "warning: digits/digits/resnet20/WT recorded by *test_same[[]1[]] and *test_same[[]2[]]; "
            "kept the latter",
        ]
    )


def test_a_record_made_in_a_fixture_survives_a_later_setup_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from robustprune.leaderboard import example_record

        @pytest.fixture
        def record(rp_record):
            rp_record(example_record("SiPP"))

        @pytest.fixture
        def broken(record):
            raise RuntimeError("checkpoint unreadable")

        def test_case(record, broken):
            pass

        def test_recorded_then_passes(rp_record):
            rp_record(example_record("WT"))
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*leaderboard (2 record(s))*", "SiPP *", "WT *"])
