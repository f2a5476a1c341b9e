"""The report never deletes or overwrites files it did not write; bad directories are one line."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from robustprune.cli import main
from robustprune.report import ReportDirectoryError, write_report
from robustprune.report.outdir import MANIFEST

pytest_plugins = ["pytester"]

FIXTURE = Path(__file__).parent / "fixtures" / "synthetic_leaderboard.json"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def small() -> dict:
    """One record of the synthetic leaderboard: enough for every kind of file, fast to draw."""
    board = json.loads(FIXTURE.read_text())
    return {**board, "records": board["records"][:1]}


def test_a_foreign_directory_is_refused_and_left_untouched(tmp_path: Path, small: dict) -> None:
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "holiday.png").write_bytes(b"my photo")
    (tmp_path / "index.html").write_text("<title>my site</title>")
    (tmp_path / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    with pytest.raises(
        ReportDirectoryError, match="holds files a robustprune report did not write"
    ):
        write_report(small, tmp_path)
    assert snapshot(tmp_path) == before


def test_the_cli_refuses_a_foreign_directory_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "docs"
    out.mkdir()
    (out / "figures").mkdir()
    (out / "figures" / "a.png").write_bytes(b"keep me")
    before = snapshot(out)
    assert main(["report", str(FIXTURE), str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert "holds files a robustprune report did not write ('figures/a.png')" in error
    assert f"e.g. {out / 'report'}" in error
    assert snapshot(out) == before


def test_rewriting_an_earlier_report_replaces_only_its_own_files(
    tmp_path: Path, small: dict
) -> None:
    out = tmp_path / "report"
    write_report(small, out)
    manifest = set(json.loads((out / MANIFEST).read_text())["files"])
    assert manifest == set(snapshot(out)) - {MANIFEST}
    assert {"index.html", "leaderboard.json"} <= manifest
    assert any(name.startswith("figures/") and name.endswith(".png") for name in manifest)
    renamed = copy.deepcopy(small)
    renamed["records"][0]["arch"] = "otherarch"  # every figure gets a new name
    write_report(renamed, out)
    after = set(json.loads((out / MANIFEST).read_text())["files"])
    assert after == set(snapshot(out)) - {MANIFEST}  # the old figures are gone
    assert not (manifest - after) & set(snapshot(out))
    (out / "mine.txt").write_text("added by the user")
    with pytest.raises(ReportDirectoryError, match="'mine.txt'"):
        write_report(small, out)


def test_a_report_from_before_the_manifest_is_recognised(tmp_path: Path, small: dict) -> None:
    out = tmp_path / "old"
    write_report(small, out)
    (out / MANIFEST).unlink()
    write_report(small, out)  # index.html titled "robustprune report" + leaderboard + figures
    assert (out / MANIFEST).exists()


def test_an_unwritable_directory_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "file-not-dir"
    target.write_text("x")
    assert main(["report", str(FIXTURE), str(target)]) == 2
    assert capsys.readouterr().err.strip().endswith("exists and is not a directory")

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert main(["report", str(FIXTURE), str(tmp_path / "new")]) == 2
    error = capsys.readouterr().err
    assert error == (
        f"robustprune report: error: cannot write the report to {tmp_path / 'new'}: "
        "Permission denied\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only directory")
def test_a_read_only_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main(["report", str(FIXTURE), str(out)]) == 2
    finally:
        out.chmod(0o755)
    assert "Permission denied" in capsys.readouterr().err


def test_rp_report_into_a_foreign_or_shared_directory_is_refused_before_the_run(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    result = pytester.runpytest_subprocess(f"--rp-report={foreign}", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--rp-report: report directory*'thesis.tex'*nothing was changed*"]
    )
    same = tmp_path / "out"
    result = pytester.runpytest_subprocess(
        f"--rp-report={same}", f"--rp-leaderboard={same}", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rp-report and --rp-leaderboard are the same directory*"])
    assert (foreign / "thesis.tex").read_text() == "mine" and not same.exists()
