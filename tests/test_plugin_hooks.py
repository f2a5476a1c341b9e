"""The plugin's hooks: pytest_robustprune_pruners, _record and _leaderboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# Imported before any pytester snapshot: pytester restores sys.modules after each in-process
# run, and a torch dropped from sys.modules then imported again crashes the process.
import robustprune.pruning

pytest_plugins = ["pytester"]


class StandInRegistry:
    """Just the registry methods the hook contract promises (register, names), and the loading
    of entry points every registry does (none here)."""

    def __init__(self) -> None:
        self.origins: dict[str, str] = {}

    def register(self, cls: type, origin: str) -> type:
        self.origins[cls.name] = origin  # type: ignore[attr-defined]
        return cls

    def names(self) -> list[str]:
        return sorted(self.origins)

    def load_entry_points(self) -> list[str]:
        return []


def test_pruner_hook_reaches_every_conftest_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = StandInRegistry()
    calls: list[Any] = []
    monkeypatch.setattr(
        robustprune.pruning, "default_registry", lambda: calls.append(1) or registry
    )
    hook = """
        class {name}:
            name = "{name}"

        def pytest_robustprune_pruners(registry):
            registry.register({name}, origin="{where}")
    """
    pytester.makeconftest(hook.format(name="ROOT", where="root conftest"))
    pytester.mkpydir("zsub")
    pytester.makepyfile(**{"zsub/conftest": hook.format(name="LATE", where="sub conftest")})
    pytester.makepyfile(
        **{
            "test_early": """
                from robustprune.plugin import get_pruner_registry

                def pytest_generate_tests(metafunc):
                    names = get_pruner_registry(metafunc.config).names()
                    metafunc.parametrize("method", names)

                def test_case(method):
                    pass
            """,
            "zsub/test_late": """
                def test_sees_both(rp_pruners):
                    assert rp_pruners.names() == ["LATE", "ROOT"]
            """,
        }
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_early.py::test_case[[]ROOT[]] PASSED*"])
    assert "test_case[LATE]" not in result.stdout.str()  # parametrized before zsub/ was loaded
    assert registry.origins == {"ROOT": "root conftest", "LATE": "sub conftest"}
    assert calls == [1]  # one default_registry() per process, however many users


def test_conftest_pruner_appears_in_the_real_registry(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from robustprune.pruning import Pruner

        class KeepAll(Pruner):
            name = "KEEPALL"
            structured = False
            data_informed = False

            def prune(self, model, prune_ratio, sample):
                return {}

        def pytest_robustprune_pruners(registry):
            registry.register(KeepAll, origin="conftest.py")
        """
    )
    pytester.makepyfile(
        """
        import pytest
        from robustprune.plugin import get_pruner_registry

        def pytest_generate_tests(metafunc):
            if "method" in metafunc.fixturenames:
                names = get_pruner_registry(metafunc.config).names()
                metafunc.parametrize("method", names, ids=[f"digits-resnet20-{n}" for n in names])

        def test_prune_potential(method, rp_pruners):
            assert rp_pruners.create(method).name == method
            if method == "KEEPALL":
                assert rp_pruners.origin(method) == "conftest.py"
        """
    )
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            "*test_prune_potential[[]digits-resnet20-FT[]] PASSED*",
            "*test_prune_potential[[]digits-resnet20-KEEPALL[]] PASSED*",
            "*test_prune_potential[[]digits-resnet20-PFP[]] PASSED*",
            "*test_prune_potential[[]digits-resnet20-SiPP[]] PASSED*",
            "*test_prune_potential[[]digits-resnet20-WT[]] PASSED*",
        ]
    )
    assert result.ret == pytest.ExitCode.OK


def test_record_and_leaderboard_hooks(pytester: pytest.Pytester, tmp_path: Path) -> None:
    seen = tmp_path / "seen.jsonl"
    pytester.makeconftest(
        f"""
        import json

        def pytest_robustprune_record(record):
            with open({str(seen)!r}, "a") as stream:
                stream.write(json.dumps([record["method"], record["arch"]]) + "\\n")

        def pytest_robustprune_leaderboard(leaderboard):
            leaderboard["environment"]["ci_job"] = "nightly-42"
        """
    )
    pytester.makepyfile(
        """
        import pytest
        from robustprune.leaderboard import example_record

        @pytest.mark.parametrize("method", ["WT", "FT", "PFP"])
        def test_case(method, rp_record):
            rp_record(example_record(method))
            assert method != "PFP"
        """
    )
    result = pytester.runpytest("-n", "2", f"--rp-leaderboard={tmp_path / 'out'}")
    result.assert_outcomes(passed=2, failed=1)
    lines = seen.read_text().splitlines()
    assert sorted(json.loads(line)[0] for line in lines) == [
        "FT",
        "PFP",
        "WT",
    ]  # on the controller only
    written = json.loads((tmp_path / "out" / "leaderboard.json").read_text())
    assert written["environment"]["ci_job"] == "nightly-42"


def test_a_leaderboard_hook_that_breaks_the_schema_fails_the_run(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makeconftest(
        """
        def pytest_robustprune_leaderboard(leaderboard):
            leaderboard["records"][0]["summary"]["gap"] = "n/a"
        """
    )
    pytester.makepyfile(
        """
        from robustprune.leaderboard import example_record

        def test_case(rp_record):
            rp_record(example_record())
        """
    )
    result = pytester.runpytest(f"--rp-leaderboard={tmp_path}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*the leaderboard is invalid, nothing written: records[[]0[]].summary.gap: expected an object*"
        ]
    )
    assert not (tmp_path / "leaderboard.json").exists()
