"""Content-addressed artifact store: tensors as safetensors plus a JSON sidecar, never pickle.

Every expensive artifact (a trained parent, one prune-retrain step, a generated shifted set)
is stored under a key hashed from everything that determines it. Writes are atomic (temp file
then rename, the sidecar last) and guarded by a file lock, so parallel processes asking for the
same artifact build it once; the others wait and load it. A file whose checksum does not match
its sidecar is treated as absent and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from robustprune.paths import default_cache_root

log = logging.getLogger(__name__)

STORE_FORMAT = 1
"""Bumped when the on-disk layout changes; part of every key."""

Tensors = dict[str, torch.Tensor]
Builder = Callable[[], tuple[Tensors, dict[str, Any]]]


def artifact_key(kind: str, key_fields: dict[str, Any]) -> str:
    """A stable hex key for ``kind`` and plain-JSON ``key_fields`` (order of dict keys ignored)."""
    canonical = json.dumps(
        {"kind": kind, "format": STORE_FORMAT, "fields": key_fields},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


@dataclass
class Artifact:
    """What the store hands back: the tensors, the builder's metadata, and whether it was built now."""

    key: str
    tensors: Tensors
    meta: dict[str, Any]
    computed: bool

    @property
    def origin(self) -> str:
        """``"computed"`` or ``"loaded"``, as records report it."""
        return "computed" if self.computed else "loaded"


class CorruptArtifactError(RuntimeError):
    """A stored artifact whose bytes do not match the checksum in its sidecar."""


class NonFiniteArtifactError(ValueError):
    """A builder returned NaN or infinite values; nothing is stored (the message says where)."""


def check_finite(kind: str, key_fields: dict[str, Any], tensors: Tensors, meta: Any) -> None:
    """Raise NonFiniteArtifactError when a floating tensor or a number in ``meta`` is not finite."""
    bad = [
        f"tensor {name!r}"
        for name, tensor in tensors.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    bad += [f"meta {path}" for path in _non_finite_numbers(meta, "")]
    if bad:
        raise NonFiniteArtifactError(
            f"refusing to cache a {kind} artifact with non-finite values in "
            f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}; key fields: "
            f"{json.dumps(key_fields, sort_keys=True)[:300]}"
        )


def _non_finite_numbers(value: Any, path: str) -> list[str]:
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path or "value"]
    if isinstance(value, dict):
        return [bad for k, v in value.items() for bad in _non_finite_numbers(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [bad for i, v in enumerate(value) for bad in _non_finite_numbers(v, f"{path}[{i}]")]
    return []


class ArtifactStore:
    """A directory of artifacts, ``<root>/<kind>/<key[:2]>/<key>.{safetensors,json}``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_root()

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    def _paths(self, kind: str, key: str) -> tuple[Path, Path, Path]:
        folder = self.root / kind / key[:2]
        return folder / f"{key}.safetensors", folder / f"{key}.json", folder / f"{key}.lock"

    def contains(self, kind: str, key_fields: dict[str, Any]) -> bool:
        """True when a complete artifact is on disk (its checksum is not verified here)."""
        _, sidecar, _ = self._paths(kind, artifact_key(kind, key_fields))
        return sidecar.exists()

    def load(self, kind: str, key_fields: dict[str, Any]) -> Artifact | None:
        """The stored artifact, or None when absent; a corrupt one is deleted and None returned."""
        key = artifact_key(kind, key_fields)
        try:
            return self._read(kind, key)
        except CorruptArtifactError as error:
            log.warning("discarding corrupt artifact %s/%s: %s", kind, key, error)
            self._delete(kind, key)
            return None

    def get_or_create(self, kind: str, key_fields: dict[str, Any], build: Builder) -> Artifact:
        """Load the artifact for ``key_fields``, or build and store it exactly once across processes."""
        found = self.load(kind, key_fields)
        if found is not None:
            return found
        key = artifact_key(kind, key_fields)
        tensor_path, _, lock_path = self._paths(kind, key)
        tensor_path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_path)):
            found = self.load(kind, key_fields)  # another process may have built it meanwhile
            if found is not None:
                return found
            tensors, meta = build()
            check_finite(kind, key_fields, tensors, meta)  # a diverged network is never cached
            self._write(kind, key, key_fields, tensors, meta)
            return Artifact(key=key, tensors=tensors, meta=meta, computed=True)

    def _read(self, kind: str, key: str) -> Artifact | None:
        tensor_path, sidecar_path, _ = self._paths(kind, key)
        if not sidecar_path.exists():
            return None
        try:
            sidecar = json.loads(sidecar_path.read_text())
            payload = tensor_path.read_bytes()
        except (OSError, json.JSONDecodeError) as error:
            raise CorruptArtifactError(f"unreadable: {error}") from error
        digest = hashlib.sha256(payload).hexdigest()
        if digest != sidecar.get("sha256"):
            raise CorruptArtifactError(
                f"checksum of {tensor_path.name} is {digest[:12]}…, sidecar says "
                f"{str(sidecar.get('sha256'))[:12]}…"
            )
        tensors = load_safetensors(payload) if payload else {}
        return Artifact(key=key, tensors=tensors, meta=sidecar.get("meta", {}), computed=False)

    def _write(
        self,
        kind: str,
        key: str,
        key_fields: dict[str, Any],
        tensors: Tensors,
        meta: dict[str, Any],
    ) -> None:
        tensor_path, sidecar_path, _ = self._paths(kind, key)
        plain = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
        payload = save_safetensors(plain) if plain else b""
        sidecar = {
            "format": STORE_FORMAT,
            "kind": kind,
            "key_fields": key_fields,
            "sha256": hashlib.sha256(payload).hexdigest(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "meta": meta,
        }
        _atomic_write(tensor_path, payload)
        _atomic_write(sidecar_path, json.dumps(sidecar, indent=1, sort_keys=True).encode())

    def _delete(self, kind: str, key: str) -> None:
        tensor_path, sidecar_path, _ = self._paths(kind, key)
        for path in (sidecar_path, tensor_path):
            path.unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees either the old file, or all of the new one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
