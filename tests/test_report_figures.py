"""Tests of robustprune.report: figures from the synthetic leaderboard and write_report's files."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from robustprune.leaderboard import validate_leaderboard
from robustprune.report import figures, write_report

FIXTURE = Path(__file__).parent / "fixtures" / "synthetic_leaderboard.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def leaderboard() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def report(leaderboard: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic leaderboard rendered once for the module; returns index.html's path."""
    return write_report(FIXTURE, tmp_path_factory.mktemp("report"))


def _group(leaderboard: dict[str, Any], arch: str) -> list[dict[str, Any]]:
    return [r for r in leaderboard["records"] if r["arch"] == arch]


def assert_valid_png(path: Path, min_width: int = 300, min_height: int = 200) -> None:
    """`path` is a decodable PNG of at least the given size that is not one flat color."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG (starts {data[:8]!r})"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG"
        assert image.width >= min_width and image.height >= min_height, (path.name, image.size)
        colors = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
        assert len(colors) > 20, f"{path.name} looks empty: {len(colors)} distinct colors"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values["src"] or "")
        if tag == "a":
            self.links.append(values.get("href") or "")


def expected_figures(leaderboard: dict[str, Any]) -> set[str]:
    """The figure files the synthetic leaderboard must produce, derived from its data."""
    names = set()
    for record in leaderboard["records"]:
        prefix = f"{record['suite']}-{record['dataset']}-{record['arch']}"
        names |= {f"{prefix}-{kind}" for kind in ("accuracy", "potential", "gap", "excess_error")}
        if record["similarity"] is not None:
            names.add(f"{prefix}-{record['method']}-similarity")
        if "features" in record:
            names.add(f"{prefix}-{record['method']}-cross_confidence")
    return {f"{name}.{suffix}" for name in names for suffix in ("png", "svg")}


def test_fixture_exercises_present_and_absent_optional_data(leaderboard: dict[str, Any]) -> None:
    records = leaderboard["records"]
    assert len({r["arch"] for r in records}) == 2 and len({r["method"] for r in records}) == 4
    assert all(r["distributions"][0] == "nominal" and len(r["distributions"]) >= 3 for r in records)
    assert {r["similarity"] is None for r in records} == {True, False}
    assert {"features" in r for r in records} == {True, False}


def test_fixture_follows_the_record_schema(leaderboard: dict[str, Any]) -> None:
    """The synthetic leaderboard is a valid schema-2 file, its extra "features" field included."""
    validate_leaderboard(leaderboard)


def test_every_figure_is_a_valid_nonempty_png(report: Path, leaderboard: dict[str, Any]) -> None:
    written = {p.name for p in (report.parent / "figures").iterdir()}
    assert written == expected_figures(leaderboard)
    for name in sorted(written):
        if name.endswith(".png"):
            assert_valid_png(report.parent / "figures" / name)
        else:
            assert (report.parent / "figures" / name).read_text().lstrip().startswith("<?xml")


def test_index_shows_every_figure_and_links_the_json(report: Path) -> None:
    parser = _Links()
    parser.feed(report.read_text(encoding="utf-8"))
    on_disk = {f"figures/{p.name}" for p in (report.parent / "figures").iterdir()}
    assert sorted(parser.images) == sorted(p for p in on_disk if p.endswith(".png"))
    assert sorted(link for link in parser.links if link.endswith(".svg")) == sorted(
        p for p in on_disk if p.endswith(".svg")
    )
    assert "leaderboard.json" in parser.links
    assert json.loads((report.parent / "leaderboard.json").read_text()) == json.loads(
        FIXTURE.read_text()
    )


def test_accuracy_curves_draw_one_panel_per_distribution(leaderboard: dict[str, Any]) -> None:
    records = _group(leaderboard, "resnet20")
    figure = figures.accuracy_curves(records)
    panels = [axes for axes in figure.axes if axes.get_visible()]
    distributions = records[0]["distributions"]
    assert [p.get_title() for p in panels] == [figures.distribution_label(d) for d in distributions]
    for panel in panels:
        methods = [
            line.get_label() for line in panel.get_lines() if not line.get_label().startswith("_")
        ]
        assert methods[:2] == ["parent", "parent − δ (δ = 0.5 points)"]
        assert methods[2:6] == ["WT", "SiPP", "FT", "PFP"]
        assert panel.get_lines()[1].get_ydata()[0] == pytest.approx(-0.5)  # δ in points
        low, high = panel.get_ylim()
        assert low == pytest.approx(-4.0) and high == pytest.approx(1.0)  # zoomed around δ
    wt = panels[0].get_lines()[2]  # WT nominal, seed-averaged change in points
    record = records[0]
    assert wt.get_xdata()[0] == 0 and wt.get_ydata()[0] == 0  # starts at the parent
    first = [curve[0]["accuracy"]["nominal"] - parent for curve, parent in
             zip(record["curve"], record["parent"]["nominal"]["accuracy"], strict=True)]  # fmt: skip
    assert wt.get_ydata()[1] == pytest.approx(100 * sum(first) / len(first))
    shaded = [p for p in panels[0].patches if p.get_facecolor()[:3] == pytest.approx((0.88,) * 3)]
    (band,) = shaded  # the δ band: from parent - δ up, several points tall once zoomed
    assert band.get_extents().height > 0.1 * panels[0].get_window_extent().height


def _errorbars(axes: Any) -> list[tuple[list[float], list[float], list[tuple[float, float]]]]:
    """(x, y, vertical extents of the bars) of every errorbar container on ``axes``."""
    found = []
    for container in axes.containers:
        line, _caps, (bars, *_rest) = container.lines[0], container.lines[1], container.lines[2]
        segments = [(float(s[0][1]), float(s[1][1])) for s in bars.get_segments()]
        found.append((list(line.get_xdata()), list(line.get_ydata()), segments))
    return found


def test_prune_potential_markers_match_the_record_means(leaderboard: dict[str, Any]) -> None:
    """In %, as the tables show them (the finding: tables used %, figures fractions)."""
    records = _group(leaderboard, "vgg16_bn")
    figure = figures.prune_potential_bars(records)
    series = _errorbars(figure.axes[0])
    assert [ys for _, ys, _ in series] == [
        pytest.approx([100 * r["prune_potential"][d]["mean"] for d in r["distributions"]])
        for r in records
    ]
    assert figure.axes[0].get_ylabel() == "prune potential (%)"
    assert figure.get_size_inches()[0] <= 7.0  # at most a page wide


def test_intervals_are_clipped_to_0_100(leaderboard: dict[str, Any]) -> None:
    """A seed spread or interval reaching past 100 % (or below 0) is drawn only up to 100 (0)."""
    records = copy.deepcopy(_group(leaderboard, "resnet20"))
    records[0]["prune_potential"]["nominal"]["ci"] = [0.7, 1.3]
    records[1]["prune_potential"]["nominal"]["ci"] = [-0.2, 0.9]
    records[0]["summary"]["nominal_pp"]["ci"] = [0.7, 1.4]
    for draw in (figures.prune_potential_bars, figures.potential_gap):
        for _, _, segments in _errorbars(draw(records).axes[0]):
            for low, high in segments:
                assert 0.0 <= low <= high <= 100.0


def test_the_gap_figure_shows_nominal_shifted_and_gap_intervals(
    leaderboard: dict[str, Any],
) -> None:
    records = _group(leaderboard, "resnet20")
    figure = figures.potential_gap(records)
    left, right = figure.axes
    pairs = _errorbars(left)
    assert [ys[0] for _, ys, _ in pairs[:2]] == pytest.approx(
        [100 * records[0]["summary"]["nominal_pp"]["mean"],
         100 * records[0]["summary"]["shifted_pp_mean"]["mean"]]
    )  # fmt: skip
    gap = right.containers[0].lines[2][0].get_segments()[0]
    assert [gap[0][0], gap[1][0]] == pytest.approx(
        [100 * v for v in records[0]["summary"]["gap"]["ci"]]
    )


def test_palette_is_colour_blind_safe_with_markers(leaderboard: dict[str, Any]) -> None:
    """Okabe-Ito colours, a distinct marker per method, and never red with green."""
    styles = figures.method_styles(leaderboard["records"])
    colors = [style.color for style in styles.values()]
    assert len(set(colors)) == len(colors) == 4
    assert len({style.marker for style in styles.values()}) == 4
    assert not {"#d62728", "#2ca02c", "red", "green"} & {c.lower() for c in colors}


def test_degenerate_shifts_are_marked(leaderboard: dict[str, Any]) -> None:
    records = copy.deepcopy(_group(leaderboard, "resnet20"))
    records[0]["degenerate"] = {"corruption:fog:3": "parent at chance"}
    panel = figures.accuracy_curves(records).axes[2]
    assert panel.get_title().endswith("excluded: parent at chance")
    labels = [t.get_text() for t in figures.prune_potential_bars(records).axes[0].get_xticklabels()]
    assert "fog 3 †" in labels


def test_excess_error_draws_the_slope_line(leaderboard: dict[str, Any]) -> None:
    record = _group(leaderboard, "resnet20")[0]
    figure = figures.excess_error([record])
    dotted = [
        line
        for line in figure.axes[0].get_lines()
        if line.get_linestyle() == ":" and len(line.get_xdata()) == 2
    ]
    (x0, x1), (y0, y1) = dotted[0].get_xdata(), dotted[0].get_ydata()
    assert (y1 - y0) / (x1 - x0) == pytest.approx(record["excess_error"]["slope"]["mean"])


def test_similarity_draws_each_ratio_and_the_reference(leaderboard: dict[str, Any]) -> None:
    record = next(r for r in leaderboard["records"] if r["similarity"] is not None)
    figure = figures.noise_similarity(record)
    for axes in figure.axes:
        labels = [line.get_label() for line in axes.get_lines()]
        ratios = record["similarity"]["ratios"]
        assert labels == [f"pruned {r:.0%}" for r in ratios] + ["separately trained parent"]


def test_optional_figures_are_skipped_without_their_data(leaderboard: dict[str, Any]) -> None:
    record = copy.deepcopy(leaderboard["records"][0])
    record["similarity"] = None
    record.pop("features", None)
    assert figures.noise_similarity(record) is None
    assert figures.cross_confidence(record) is None
    record["features"] = {"models": ["a", "b"], "cross_confidence": [[0.9, 0.1]]}  # not square
    assert figures.cross_confidence(record) is None
    record["features"]["cross_confidence"] = [[0.9, 0.1], [0.2, 0.8]]
    assert figures.cross_confidence(record) is not None
    for key in ("curve", "prune_potential", "excess_error", "summary"):
        record.pop(key)
    assert figures.accuracy_curves([record]) is None
    assert figures.prune_potential_bars([record]) is None
    assert figures.potential_gap([record]) is None
    assert figures.excess_error([record]) is None


def test_records_without_optional_fields_still_render(
    leaderboard: dict[str, Any], tmp_path: Path
) -> None:
    bare = copy.deepcopy(leaderboard["records"][0])
    for key in (
        "similarity",
        "features",
        "excess_error",
        "timings",
        "artifacts",
        "summary",
        "flop_reduction_at_pp",
        "thresholds",
        "environment",
    ):
        bare.pop(key, None)
    bare["prune_potential"].pop("corruption:fog:3")
    index = write_report({"schema": 1, "records": [bare]}, tmp_path)
    written = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert written == [
        "synthetic-cifar10-resnet20-accuracy.png",
        "synthetic-cifar10-resnet20-accuracy.svg",
        "synthetic-cifar10-resnet20-potential.png",
        "synthetic-cifar10-resnet20-potential.svg",
    ]
    assert_valid_png(tmp_path / "figures" / written[0])
    assert ">WT<" in index.read_text(encoding="utf-8")
    assert json.loads((tmp_path / "leaderboard.json").read_text())["records"] == [bare]


def test_a_rerun_into_the_same_folder_drops_stale_figures(
    leaderboard: dict[str, Any], tmp_path: Path
) -> None:
    record = copy.deepcopy(_group(leaderboard, "vgg16_bn")[0])
    record.pop("excess_error")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "old-accuracy.png").write_bytes(PNG_SIGNATURE)
    # written by an earlier report: its manifest lists it (a file no report wrote is refused,
    # see tests/test_report_outdir.py)
    (tmp_path / ".robustprune-report.json").write_text('{"files": ["figures/old-accuracy.png"]}')
    write_report({"schema": 1, "records": [record]}, tmp_path)
    assert "old-accuracy.png" not in {p.name for p in (tmp_path / "figures").iterdir()}


def test_unknown_schema_and_missing_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"schema 7 is not supported; supported: \[1, 2\]"):
        write_report({"schema": 7, "records": []}, tmp_path)
    with pytest.raises(ValueError, match="nowhere.json' does not exist"):
        write_report(tmp_path / "nowhere.json", tmp_path)
    with pytest.raises(ValueError, match="'records' must be a list"):
        write_report({"schema": 1, "records": {"WT": {}}}, tmp_path)


# --- issue 19 item 7 / issue 21 item 9: per-seed markers, %, one y-range per metric ----------


def _seed_points(axes: Any) -> list[tuple[float, float, str]]:
    """(x, y, marker) of every per-seed marker drawn on ``axes``."""
    return [
        (float(line.get_xdata()[0]), float(line.get_ydata()[0]), line.get_marker())
        for line in axes.get_lines()
        if line.get_label() == "_seed"
    ]


def test_potential_figure_shows_every_seed_with_grid_ends_marked(
    leaderboard: dict[str, Any],
) -> None:
    """The finding: per-seed values were shown nowhere, and grid-end PPs looked measured."""
    records = copy.deepcopy(_group(leaderboard, "resnet20"))
    wt = records[0]
    last = wt["curve"][0][-1]["prune_ratio"]
    wt["prune_potential"]["nominal"]["values"][0] = last  # seed 0 passed the grid's last point
    wt["prune_potential"]["corruption:gaussian_noise:3"]["values"][1] = 0.0  # seed 1: PP 0
    points = _seed_points(figures.prune_potential_bars(records).axes[0])
    per_record = len(wt["distributions"]) * len(wt["seeds"])
    assert len(points) == per_record * len(records)  # every seed of every method
    wt_points = points[:per_record]
    assert (pytest.approx(100 * last), "^") in [(y, m) for _, y, m in wt_points]
    assert (0.0, "v") in [(y, m) for _, y, m in wt_points]
    measured = sorted(y for _, y, m in wt_points if m == "o")
    expected = sorted(
        100 * v
        for d in wt["distributions"]
        for v in wt["prune_potential"][d]["values"]
        if 0 < v < last
    )
    assert measured == pytest.approx(expected)


def test_gap_figure_shows_every_seed(leaderboard: dict[str, Any]) -> None:
    records = _group(leaderboard, "vgg16_bn")
    left, right = figures.potential_gap(records).axes
    nominal = sorted(100 * v for r in records for v in r["prune_potential"]["nominal"]["values"])
    left_values = sorted(y for _, y, _ in _seed_points(left))
    assert len(left_values) == 2 * len(nominal)  # nominal and shifted mean per seed
    assert all(any(y == pytest.approx(v) for y in left_values) for v in nominal)
    gaps = [x for x, _, _ in _seed_points(right)]
    assert len(gaps) == len(nominal)
    mean_gap = 100 * records[0]["summary"]["gap"]["mean"]
    assert sum(gaps[:2]) / 2 == pytest.approx(mean_gap, abs=0.01)  # the seeds behind the mean


def test_figures_use_percent_like_the_tables(leaderboard: dict[str, Any]) -> None:
    """The finding: tables used % and figures fractions."""
    records = _group(leaderboard, "resnet20")
    accuracy = figures.accuracy_curves(records).axes[0]
    assert accuracy.get_xlim() == (0, 100)
    excess = figures.excess_error(records).axes[0]
    assert excess.get_xlabel() == "prune ratio (%)" and excess.get_xlim() == (0, 100)
    assert "points" in excess.get_ylabel()
    for draw in (figures.prune_potential_bars, figures.potential_gap):
        axes = draw(records).axes[0]
        assert axes.get_ylabel() == "prune potential (%)" and axes.get_ylim()[1] > 100
    similarity = figures.noise_similarity(next(r for r in records if r["similarity"]))
    agreement = similarity.axes[0]
    assert agreement.get_ylabel().endswith("(%)")
    assert min(min(line.get_ydata()) for line in agreement.get_lines()) > 1  # not fractions
    record = next(r for r in records if "features" in r)
    heat = figures.cross_confidence(record).axes[0]
    assert heat.texts[0].get_text() == f"{100 * record['features']['cross_confidence'][0][0]:.0f}"


def test_similarity_figures_of_one_network_share_one_y_range(
    leaderboard: dict[str, Any],
) -> None:
    """The finding: per-method similarity figures used different y-ranges."""
    records = copy.deepcopy([r for r in _group(leaderboard, "resnet20") if r["similarity"]])
    assert len(records) >= 2
    for ratio, values in records[1]["similarity"]["softmax_l2"].items():  # a far wider spread
        records[1]["similarity"]["softmax_l2"][ratio] = [3 * v for v in values]
    ranges = [
        [axes.get_ylim() for axes in figures.noise_similarity(record, records).axes]
        for record in records
    ]
    assert all(r == ranges[0] for r in ranges), ranges
    alone = [axes.get_ylim() for axes in figures.noise_similarity(records[0]).axes]
    assert alone[1] != ranges[0][1]  # without its peers the first would have its own range
