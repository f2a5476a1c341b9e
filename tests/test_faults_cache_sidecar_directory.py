"""A directory where an artifact's sidecar or tensor file belongs: an empty one is cleared and
the artifact rebuilt; a non-empty one is a clear error naming it (it was IsADirectoryError)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from robustprune.cache import ArtifactStore, ArtifactWarning, CorruptArtifactError, artifact_key

FIELDS = {"arch": "net"}


def build() -> tuple[dict, dict]:
    return {"w": torch.ones(2)}, {"a": 1.0}


@pytest.mark.parametrize("which", [0, 1])  # tensors, sidecar
def test_cache_sidecar_that_is_an_empty_directory_is_rebuilt(tmp_path: Path, which: int) -> None:
    store = ArtifactStore(tmp_path)
    if which == 0:
        store.get_or_create("parent", FIELDS, build)  # a sidecar, then its tensors are damaged
    path = store._paths("parent", artifact_key("parent", FIELDS))[which]
    path.unlink(missing_ok=True)
    path.mkdir(parents=True)
    with pytest.warns(ArtifactWarning, match="rebuilding it"):
        artifact = store.get_or_create("parent", FIELDS, build)
    assert artifact.computed and path.is_file()


def test_cache_sidecar_directory_with_contents_is_named_not_deleted(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    sidecar = store._paths("parent", artifact_key("parent", FIELDS))[1]
    sidecar.mkdir(parents=True)
    (sidecar / "notes.txt").write_text("someone's")
    with pytest.warns(ArtifactWarning), pytest.raises(CorruptArtifactError) as error:
        store.get_or_create("parent", FIELDS, build)
    assert f"holds a directory {sidecar}" in str(error.value) and "move it away" in str(error.value)
    assert (sidecar / "notes.txt").read_text() == "someone's"
