"""``robustprune report`` into a directory holding an older (manifest-less) report never deletes
a file that report did not write: a figure its page does not link to is the user's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report_outdir import FIXTURE, snapshot

from robustprune.cli import main
from robustprune.report import ReportDirectoryError, write_report
from robustprune.report.outdir import MANIFEST


@pytest.fixture(scope="module")
def small() -> dict:
    board = json.loads(FIXTURE.read_text())
    return {**board, "records": board["records"][:1]}


def old_style_report(out: Path, small: dict) -> None:
    """A report as versions before the manifest left it."""
    write_report(small, out)
    (out / MANIFEST).unlink()


def test_report_over_an_old_style_report_keeps_the_users_figure(
    tmp_path: Path, small: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "old"
    old_style_report(out, small)
    (out / "figures" / "my.png").write_bytes(b"my own figure")
    before = snapshot(out)
    with pytest.raises(ReportDirectoryError, match=r"did not write \('figures/my.png'\)"):
        write_report(small, out)
    assert snapshot(out) == before
    assert main(["report", str(FIXTURE), str(out)]) == 2
    assert "'figures/my.png'" in capsys.readouterr().err
    assert snapshot(out) == before


def test_report_over_an_old_style_report_replaces_only_the_figures_its_page_linked(
    tmp_path: Path, small: dict
) -> None:
    out = tmp_path / "old"
    old_style_report(out, small)
    stale = out / "figures" / "gone-from-the-new-report.png"
    stale.write_bytes(b"old figure")
    page = (out / "index.html").read_text()
    (out / "index.html").write_text(page + f'<img src="figures/{stale.name}">')
    write_report(small, out)
    assert not stale.exists()  # the old report's own figure: replaced
    assert (out / MANIFEST).exists()
