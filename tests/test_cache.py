"""The artifact store builds each artifact once across processes and never loads a corrupt one."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from pathlib import Path

import pytest
import torch

from robustprune.cache import (
    STORE_FORMAT,
    ArtifactStore,
    ArtifactWarning,
    artifact_key,
    sidecar_digest,
)

pytest_plugins = ["pytester"]


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

    with pytest.warns(ArtifactWarning, match="checksum of"):
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
    with pytest.warns(ArtifactWarning, match="checksum of"):
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


def _sidecar(root: Path, kind: str = "evaluation") -> Path:
    return next((root / kind).rglob("*.json"))


def _evaluation(store: ArtifactStore, accuracy: float, build_log: list[int] | None = None):
    def build():
        if build_log is not None:
            build_log.append(1)
        return {"correct": torch.ones(4, dtype=torch.uint8)}, {"accuracy": accuracy}

    return store.get_or_create("evaluation", {"model": "m"}, build)


def test_editing_one_digit_of_the_metadata_is_detected_and_rebuilt(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    _evaluation(store, 0.9755)
    sidecar = _sidecar(tmp_path)
    sidecar.write_text(sidecar.read_text().replace("0.9755", "0.9155"))
    with pytest.warns(ArtifactWarning, match="does not match its digest"):
        rebuilt = _evaluation(store, 0.9755)
    assert rebuilt.computed and rebuilt.meta == {"accuracy": 0.9755}
    assert not _evaluation(store, 0.0).computed  # the rebuilt one is trusted again


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda side, tensors: side.write_text("[1, 2, 3]"), "holds a list, not an object"),
        (lambda side, tensors: side.write_text('"text"'), "holds a str, not an object"),
        (lambda side, tensors: side.write_bytes(b"\xff\xfe{"), "unreadable sidecar"),
        (lambda side, tensors: side.write_text("{"), "unreadable sidecar"),
        (lambda side, tensors: tensors.unlink(), "unreadable tensors"),
        (lambda side, tensors: tensors.write_bytes(b"x" * 10), "checksum of"),
    ],
)
def test_any_unusable_artifact_is_rebuilt_with_a_warning_not_a_failure(
    tmp_path: Path, damage, reason: str
) -> None:
    store = ArtifactStore(tmp_path)
    _evaluation(store, 0.5)
    sidecar = _sidecar(tmp_path)
    damage(sidecar, sidecar.with_suffix(".safetensors"))
    with pytest.warns(ArtifactWarning, match=reason):
        assert _evaluation(store, 0.5).computed
    for _ in range(2):  # rebuilt once, then loaded: never a failure on every rerun
        assert not _evaluation(store, 0.5).computed


def _rewrite(sidecar_path: Path, **changes) -> None:
    sidecar = json.loads(sidecar_path.read_text())
    sidecar.update(changes)
    sidecar["digest"] = sidecar_digest(sidecar)
    sidecar_path.write_text(json.dumps(sidecar))


def test_consistent_looking_but_mismatched_artifacts_are_rebuilt(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    _evaluation(store, 0.5)
    sidecar = _sidecar(tmp_path)
    tensors = sidecar.with_suffix(".safetensors")
    garbage = b"not safetensors at all"
    tensors.write_bytes(garbage)
    _rewrite(sidecar, sha256=hashlib.sha256(garbage).hexdigest())
    with pytest.warns(ArtifactWarning, match="is not safetensors"):
        assert _evaluation(store, 0.5).computed
    _rewrite(_sidecar(tmp_path), key_fields={"model": "other"})
    with pytest.warns(ArtifactWarning, match="describes another artifact"):
        assert _evaluation(store, 0.5).computed
    _rewrite(_sidecar(tmp_path), meta=[0.5])
    with pytest.warns(ArtifactWarning, match="no metadata object"):
        assert _evaluation(store, 0.5).computed


def test_an_artifact_of_the_previous_store_format_is_stale_and_rebuilt(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    _evaluation(store, 0.5)
    sidecar_path = _sidecar(tmp_path)
    old = json.loads(sidecar_path.read_text())
    del old["digest"]
    old["format"] = 1  # what store format 1 wrote: same key, no digest
    sidecar_path.write_text(json.dumps(old))
    with pytest.warns(ArtifactWarning, match="stale: written by store format 1, this is 2"):
        assert _evaluation(store, 0.5).computed
    assert json.loads(sidecar_path.read_text())["format"] == STORE_FORMAT == 2


def test_temporary_files_of_a_killed_write_are_removed_by_the_next_build(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    key = artifact_key("evaluation", {"model": "m"})
    folder = tmp_path / "evaluation" / key[:2]
    folder.mkdir(parents=True)
    orphans = [
        folder / f".{key}.safetensors.abc123.tmp",  # killed while writing the tensors
        folder / f".{key}.json.def456.tmp",  # killed while writing the sidecar
    ]
    for orphan in orphans:
        orphan.write_bytes(b"partial")
    (folder / f"{key}.safetensors").write_bytes(b"renamed, but no sidecar yet")
    assert _evaluation(store, 0.5).computed
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{key}.safetensors", f"{key}.json", f"{key}.lock"]
    )


def test_the_rebuild_warning_shows_in_the_pytest_output(pytester: pytest.Pytester) -> None:
    store = ArtifactStore(pytester.path / "cache")
    _evaluation(store, 0.5)
    _sidecar(pytester.path / "cache").write_text("[]")
    pytester.makepyfile(
        f"""
        import torch
        from robustprune.cache import ArtifactStore

        def test_reads():
            store = ArtifactStore({str(pytester.path / "cache")!r})
            build = lambda: ({{"correct": torch.ones(4, dtype=torch.uint8)}}, {{"accuracy": 0.5}})
            assert store.get_or_create("evaluation", {{"model": "m"}}, build).computed
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*warnings summary*", "*ArtifactWarning: robustprune cache: discarding evaluation*"]
    )
