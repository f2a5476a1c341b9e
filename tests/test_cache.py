"""The artifact store builds each artifact once across processes and never loads a corrupt one."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest
import torch

from robustprune.cache import ArtifactStore, artifact_key


def _unseeded_parent(log_path: str):
    """A 'training' that gives different weights every time it runs, and logs that it ran."""
    with open(log_path, "a") as log:
        log.write("built\n")
    time.sleep(0.5)  # long enough that the racers overlap
    return {"weight": torch.randn(4, 3)}, {"epochs": 1}


def _race(root: str, log_path: str, out_path: str) -> None:
    torch.set_num_threads(1)
    store = ArtifactStore(root)
    artifact = store.get_or_create(
        "parent", {"arch": "tiny", "seed": 0}, lambda: _unseeded_parent(log_path)
    )
    torch.save(artifact.tensors["weight"], out_path)


def test_racing_processes_build_once_and_share_identical_weights(tmp_path: Path) -> None:
    log_path = tmp_path / "builds.log"
    context = multiprocessing.get_context("spawn")
    outputs = [tmp_path / f"out{i}.pt" for i in range(4)]
    processes = [
        context.Process(target=_race, args=(str(tmp_path / "cache"), str(log_path), str(out)))
        for out in outputs
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert log_path.read_text().count("built") == 1
    weights = [torch.load(out) for out in outputs]
    for weight in weights[1:]:
        assert torch.equal(weight, weights[0])


def test_second_request_loads_instead_of_building(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    calls = []

    def build():
        calls.append(1)
        return {"w": torch.arange(6.0).view(2, 3)}, {"note": "x"}

    first = store.get_or_create("parent", {"seed": 1}, build)
    second = store.get_or_create("parent", {"seed": 1}, build)
    assert (first.computed, second.computed) == (True, False)
    assert (first.origin, second.origin) == ("computed", "loaded")
    assert len(calls) == 1
    assert torch.equal(second.tensors["w"], torch.arange(6.0).view(2, 3))
    assert second.meta == {"note": "x"}


def test_corrupted_artifact_is_rebuilt_not_loaded(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    original = store.get_or_create("parent", {"seed": 2}, lambda: ({"w": torch.ones(100)}, {}))
    tensor_file = next((tmp_path / "parent").rglob("*.safetensors"))
    payload = bytearray(tensor_file.read_bytes())
    payload[-8:] = b"\x00" * 8  # flip the last weights' bytes
    tensor_file.write_bytes(bytes(payload))

    rebuilt = store.get_or_create(
        "parent", {"seed": 2}, lambda: ({"w": torch.full((100,), 2.0)}, {})
    )
    assert original.computed and rebuilt.computed
    assert torch.equal(rebuilt.tensors["w"], torch.full((100,), 2.0))


def test_truncated_artifact_is_rebuilt(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    store.get_or_create("curve", {"step": 0}, lambda: ({"w": torch.ones(1000)}, {}))
    tensor_file = next((tmp_path / "curve").rglob("*.safetensors"))
    tensor_file.write_bytes(tensor_file.read_bytes()[:100])
    assert store.load("curve", {"step": 0}) is None
    assert not tensor_file.with_suffix(".json").exists()


def test_sidecar_is_plain_json_and_key_ignores_field_order(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    artifact = store.get_or_create("parent", {"a": 1, "b": [2, 3]}, lambda: ({}, {"epochs": 3}))
    assert artifact_key("parent", {"b": [2, 3], "a": 1}) == artifact.key
    sidecar = json.loads(next((tmp_path / "parent").rglob("*.json")).read_text())
    assert sidecar["key_fields"] == {"a": 1, "b": [2, 3]}
    assert sidecar["meta"] == {"epochs": 3}
    assert store.load("parent", {"a": 1, "b": [2, 3]}).tensors == {}


def test_cache_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBUSTPRUNE_CACHE", str(tmp_path / "elsewhere"))
    assert ArtifactStore().root == tmp_path / "elsewhere"
