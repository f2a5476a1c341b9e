"""Machine classes: recorded with every result, kept apart in keys, named when a comparison
crosses them; leaderboards and stored runs carry the records' machine class and plugins."""

from __future__ import annotations

from pathlib import Path

from robustprune import machine
from robustprune.history import describe, list_runs, save_run
from robustprune.leaderboard import compare, make_leaderboard, render_comparison
from robustprune.leaderboard.examples import example_record

AVX2 = {"device": "cpu", "isa": "avx2", "vendor": "GenuineIntel", "torch": "2.5.1"}
AVX512 = {"device": "cpu", "isa": "avx512", "vendor": "AuthenticAMD", "torch": "2.5.1"}
PLUGIN = {"kind": "pruner", "name": "Random", "module": "randprune", "distribution": "randprune",
          "version": "0.2", "source": "abc"}  # fmt: skip


def leaderboard(machine_class: dict | None, nominal: float = 0.9) -> dict:
    record = example_record("WT", nominal_pp=(nominal, nominal), shifted_pp=(0.3, 0.3))
    if machine_class is not None:
        labelled = {**machine_class, "label": machine.machine_label(machine_class)}
        record["environment"] = {**record["environment"], "machine_class": labelled}
        record["environment"]["plugins"] = [PLUGIN]
    return make_leaderboard([record], environment={"device": "cpu"})


def test_this_machine_has_a_class_with_a_label() -> None:
    found = machine.machine_class("cpu")
    assert found["device"] == "cpu" and found["torch"] and found["isa"]
    assert found["label"].startswith(f"cpu {found['isa']} ")
    key = machine.machine_key("cpu")
    assert key == {**{k: v for k, v in found.items() if k != "label"}, "threads": key["threads"]}


def test_forced_kernels_and_thread_counts_are_other_classes(monkeypatch) -> None:
    import torch

    plain = machine.machine_key("cpu")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert machine.machine_key("cpu")["kernels"] == {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(threads + 1)
        assert machine.machine_key("cpu") != plain
    finally:
        torch.set_num_threads(threads)
    assert machine.machine_key("cpu") == plain


def test_leaderboards_carry_their_records_machine_class_and_plugins() -> None:
    board = leaderboard(AVX2)
    assert board["environment"]["machine_class"]["label"] == "cpu avx2 GenuineIntel, torch 2.5.1"
    assert board["environment"]["plugins"] == [PLUGIN]
    assert board["environment"]["device"] == "cpu"
    mixed = make_leaderboard(leaderboard(AVX2)["records"] + [
        {**leaderboard(AVX512)["records"][0], "method": "FT"}
    ])  # fmt: skip
    assert mixed["environment"]["machine_class"]["label"] == (
        "cpu avx2 GenuineIntel, torch 2.5.1 + cpu avx512 AuthenticAMD, torch 2.5.1"
    )
    old = leaderboard(None)  # records written before machine classes were recorded
    assert "machine_class" not in old["environment"] and "plugins" not in old["environment"]


def test_compare_names_another_machine_class_and_what_it_means() -> None:
    same = compare(leaderboard(AVX2), leaderboard(AVX2, 0.8))
    assert same.machine_note is None
    assert "machine class" not in render_comparison(same)
    other = render_comparison(compare(leaderboard(AVX2), leaderboard(AVX512, 0.8)))
    assert (
        "note: the baseline ran on machine class cpu avx2 GenuineIntel, torch 2.5.1, this run on "
        "cpu avx512 AuthenticAMD, torch 2.5.1: training is bit-for-bit repeatable only within a "
        "machine class" in other
    )
    assert "only cases whose parents match (same parent digests) compare pairwise" in other
    unknown = render_comparison(compare(leaderboard(None), leaderboard(AVX512, 0.8)))
    assert "note: the baseline does not record its machine class" in unknown
    assert "this run: cpu avx512 AuthenticAMD, torch 2.5.1" in unknown
    assert compare(leaderboard(AVX2), leaderboard(None)).machine_note is None


def test_stored_runs_carry_machine_class_and_plugins(tmp_path: Path) -> None:
    save_run(leaderboard(AVX2), tmp_path, tmp_path, ["pytest", "benchmarks/"])
    [run] = list_runs(tmp_path)
    assert run.provenance["plugins"] == [PLUGIN]
    assert run.provenance["machine_class"]["isa"] == "avx2"
    assert "[cpu avx2 GenuineIntel, torch 2.5.1]  pytest benchmarks/" in describe(run)


def test_gpu_machine_class_names_the_model() -> None:
    label = machine.machine_label(
        {"device": "cuda", "gpu": "NVIDIA H100 80GB HBM3", "cuda": "12.4", "torch": "2.5.1"}
    )
    assert label == "cuda NVIDIA H100 80GB HBM3, CUDA 12.4, torch 2.5.1"
