"""Content-addressed artifact store: tensors as safetensors plus a JSON sidecar, never pickle.

Every expensive artifact (a trained parent, one prune-retrain step, a generated shifted set)
is stored under a key hashed from everything that determines it. Writes are atomic (temp file
then rename, the sidecar last) and guarded by a file lock, so parallel processes asking for the
same artifact build it once; the others wait and load it. The sidecar holds the checksum of
the tensors and a digest of everything else in it (metadata included), so an artifact that
is unreadable, edited, truncated, of another store format or inconsistent with its key is
rebuilt, with an :class:`ArtifactWarning` saying which and why. Temporary files left by a
killed write are removed when that artifact is next built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from robustprune.paths import default_cache_root, write_atomic
from robustprune.phases import phase

log = logging.getLogger(__name__)

KEY_FORMAT = 1
"""Part of every key; bumped when what a key hashes changes (every artifact then has a new key)."""

STORE_FORMAT = 2
"""Bumped when the sidecar layout changes; an artifact of another format is stale and rebuilt
in place. 2: the sidecar carries ``digest``, covering its metadata as well as the tensors."""

Tensors = dict[str, torch.Tensor]
Builder = Callable[[], tuple[Tensors, dict[str, Any]]]


def artifact_key(kind: str, key_fields: dict[str, Any]) -> str:
    """A stable hex key for ``kind`` and plain-JSON ``key_fields`` (order of dict keys ignored)."""
    canonical = json.dumps(
        {"kind": kind, "format": KEY_FORMAT, "fields": key_fields},
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
    """A stored artifact that cannot be trusted: unreadable, edited, truncated or stale."""


class ArtifactWarning(UserWarning):
    """A stored artifact was discarded and is being rebuilt (shown in pytest's warnings summary)."""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def sidecar_digest(sidecar: dict[str, Any]) -> str:
    """SHA-256 of every field of ``sidecar`` but ``digest`` itself, in canonical JSON."""
    body = {name: value for name, value in sidecar.items() if name != "digest"}
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


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
        """The stored artifact, or None when absent; a corrupt one is deleted (with a warning)."""
        key = artifact_key(kind, key_fields)
        found, problem = self._try_read(kind, key, key_fields)
        if problem is None:
            return found
        with self._lock(kind, key):
            found, problem = self._try_read(kind, key, key_fields)
            if problem is not None:
                self._discard(kind, key, problem)
            return found

    def get_or_create(self, kind: str, key_fields: dict[str, Any], build: Builder) -> Artifact:
        """Load the artifact for ``key_fields``, or build and store it exactly once across processes."""
        key = artifact_key(kind, key_fields)
        found, problem = self._try_read(kind, key, key_fields)
        if found is not None:
            return found
        with self._lock(kind, key):
            # another process may have built (or repaired) it meanwhile
            found = self._stored_or_cleared(kind, key, key_fields)
            if found is not None:
                return found
            tensors, meta = build()
            check_finite(kind, key_fields, tensors, meta)  # a diverged network is never cached
            self._write(kind, key, key_fields, tensors, meta)
            return Artifact(key=key, tensors=tensors, meta=meta, computed=True)

    def _stored_or_cleared(
        self, kind: str, key: str, key_fields: dict[str, Any]
    ) -> Artifact | None:
        """Under the artifact's lock: the intact stored artifact, or None once a bad copy (with
        an ArtifactWarning) and the temporary files of a killed write are removed."""
        found, problem = self._try_read(kind, key, key_fields)
        if found is not None:
            return found
        if problem is not None:
            self._discard(kind, key, problem)
        self._remove_orphans(kind, key)
        return None

    def _lock(self, kind: str, key: str) -> FileLock:
        _, _, lock_path = self._paths(kind, key)
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(lock_path))

    def _try_read(
        self, kind: str, key: str, key_fields: dict[str, Any]
    ) -> tuple[Artifact | None, str | None]:
        """(artifact, None), (None, None) when absent, or (None, why it cannot be used)."""
        try:
            return self._read(kind, key, key_fields), None
        except CorruptArtifactError as error:
            return None, str(error)

    def _discard(self, kind: str, key: str, problem: str) -> None:
        message = (
            f"robustprune cache: discarding {kind} artifact {key[:12]} in {self.root} and "
            f"rebuilding it: {problem}"
        )
        log.warning(message)
        warnings.warn(ArtifactWarning(message), stacklevel=3)
        self._delete(kind, key)

    def _read(self, kind: str, key: str, key_fields: dict[str, Any]) -> Artifact | None:
        with phase("cache I/O"):
            return self._read_files(kind, key, key_fields)

    def _read_files(self, kind: str, key: str, key_fields: dict[str, Any]) -> Artifact | None:
        tensor_path, sidecar_path, _ = self._paths(kind, key)
        if not sidecar_path.exists():
            return None
        try:
            sidecar_bytes = sidecar_path.read_bytes()
        except OSError as error:
            raise CorruptArtifactError(f"unreadable sidecar {sidecar_path.name}: {error}") from None
        sidecar = _parse_sidecar(sidecar_bytes, sidecar_path.name)
        _check_sidecar(sidecar, kind, key_fields, sidecar_path.name)
        try:
            payload = tensor_path.read_bytes()
        except OSError as error:
            raise CorruptArtifactError(f"unreadable tensors {tensor_path.name}: {error}") from None
        tensors = _check_tensors(payload, sidecar, tensor_path.name)
        return Artifact(key=key, tensors=tensors, meta=sidecar["meta"], computed=False)

    def export_files(self, kind: str, key: str) -> tuple[bytes, bytes] | None:
        """The raw ``(tensors, sidecar)`` file contents of a stored artifact, or None when absent.

        Not verified here: :meth:`verify_files` or :meth:`import_files` on the receiving side
        checks them (how a Ray task ships an artifact to a store it cannot open, robustprune.ray_tasks).
        """
        tensor_path, sidecar_path, _ = self._paths(kind, key)
        try:
            sidecar = sidecar_path.read_bytes()
            return tensor_path.read_bytes(), sidecar
        except FileNotFoundError:
            return None

    def artifacts(self) -> list[tuple[str, str]]:
        """``(kind, key)`` of every artifact with a sidecar in this store, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            (path.parent.parent.name, path.stem)
            for path in self.root.glob("*/*/*.json")
            if not path.name.startswith(".")
        )

    def verify_files(self, kind: str, key: str, tensors: bytes, sidecar: bytes) -> Artifact:
        """The artifact another store's files hold, after every check a read makes.

        The sidecar must be of this store format, match its digest, describe ``kind`` and a
        key-fields object whose :func:`artifact_key` is ``key``; the tensors must match the
        sidecar's SHA-256 and be safetensors. Raises :class:`CorruptArtifactError` saying why.
        """
        name = f"{kind} artifact {key[:12]}"
        parsed = _parse_sidecar(sidecar, name)
        fields = parsed.get("key_fields")
        if not isinstance(fields, dict) or artifact_key(kind, fields) != key:
            raise CorruptArtifactError(f"sidecar of {name} describes another key")
        _check_sidecar(parsed, kind, fields, name)
        loaded = _check_tensors(tensors, parsed, name)
        return Artifact(key=key, tensors=loaded, meta=parsed["meta"], computed=False)

    def import_files(self, kind: str, key: str, tensors: bytes, sidecar: bytes) -> bool:
        """Store an artifact's files as another store wrote them (e.g. a Ray worker's store).

        The files are verified first (:meth:`verify_files`; CorruptArtifactError when they fail)
        and written the way :meth:`get_or_create` writes: under the key's lock, tensors then
        sidecar, each atomically, so readers see all of it or nothing. An intact artifact
        already stored under ``key`` is kept. Returns True when the files were written.
        """
        self.verify_files(kind, key, tensors, sidecar)
        fields = json.loads(sidecar.decode("utf-8"))["key_fields"]
        with self._lock(kind, key):
            if self._stored_or_cleared(kind, key, fields) is not None:
                return False
            tensor_path, sidecar_path, _ = self._paths(kind, key)
            write_atomic(tensor_path, tensors)
            write_atomic(sidecar_path, sidecar)
            return True

    def _write(
        self,
        kind: str,
        key: str,
        key_fields: dict[str, Any],
        tensors: Tensors,
        meta: dict[str, Any],
    ) -> None:
        with phase("cache I/O"):
            self._write_files(kind, key, key_fields, tensors, meta)

    def _write_files(
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
        sidecar = json.loads(  # the JSON form is what a reader sees (tuples become lists)
            _canonical(
                {
                    "format": STORE_FORMAT,
                    "kind": kind,
                    "key_fields": key_fields,
                    "sha256": hashlib.sha256(payload).hexdigest(),
                    "created": datetime.now(UTC).isoformat(timespec="seconds"),
                    "meta": meta,
                }
            )
        )
        sidecar["digest"] = sidecar_digest(sidecar)
        write_atomic(tensor_path, payload)
        write_atomic(sidecar_path, json.dumps(sidecar, indent=1, sort_keys=True).encode())

    def _delete(self, kind: str, key: str) -> None:
        tensor_path, sidecar_path, _ = self._paths(kind, key)
        for path in (sidecar_path, tensor_path):
            if path.is_dir() and not path.is_symlink():  # damage: an empty one goes, else ask
                try:
                    path.rmdir()
                except OSError:
                    raise CorruptArtifactError(
                        f"the artifact store {self.root} holds a directory {path} where "
                        f"{kind} artifact {key[:12]}'s file belongs, and it is not empty; move "
                        "it away (nothing in it is robustprune's) and rerun"
                    ) from None
            path.unlink(missing_ok=True)

    def _remove_orphans(self, kind: str, key: str) -> None:
        """Delete this key's temporary files; call only while holding its lock."""
        tensor_path, sidecar_path, _ = self._paths(kind, key)
        for path in (tensor_path, sidecar_path):
            for orphan in path.parent.glob(f".{path.name}.*.tmp"):
                orphan.unlink(missing_ok=True)


def _parse_sidecar(data: bytes, name: str) -> dict[str, Any]:
    try:
        sidecar = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorruptArtifactError(f"unreadable sidecar {name}: {error}") from None
    if not isinstance(sidecar, dict):
        raise CorruptArtifactError(
            f"sidecar {name} holds a {type(sidecar).__name__}, not an object"
        )
    return sidecar


def _check_sidecar(sidecar: dict[str, Any], kind: str, key_fields: Any, name: str) -> None:
    if sidecar.get("format") != STORE_FORMAT:
        raise CorruptArtifactError(
            f"stale: written by store format {sidecar.get('format')!r}, this is {STORE_FORMAT}"
        )
    try:
        digest_ok = sidecar_digest(sidecar) == sidecar.get("digest")
    except (TypeError, ValueError):
        digest_ok = False
    if not digest_ok:
        raise CorruptArtifactError(f"sidecar {name} does not match its digest (edited or damaged)")
    if sidecar.get("kind") != kind or _canonical(sidecar.get("key_fields")) != _canonical(
        key_fields
    ):
        raise CorruptArtifactError(
            f"sidecar {name} describes another artifact "
            f"({sidecar.get('kind')!r}, {_canonical(sidecar.get('key_fields'))[:80]})"
        )
    if not isinstance(sidecar.get("meta"), dict):
        raise CorruptArtifactError(f"sidecar {name} has no metadata object")


def _check_tensors(payload: bytes, sidecar: dict[str, Any], name: str) -> Tensors:
    digest = hashlib.sha256(payload).hexdigest()
    if digest != sidecar.get("sha256"):
        raise CorruptArtifactError(
            f"checksum of {name} is {digest[:12]}…, sidecar says {str(sidecar.get('sha256'))[:12]}…"
        )
    try:
        return load_safetensors(payload) if payload else {}
    except Exception as error:  # noqa: BLE001 - any parse failure means: rebuild
        raise CorruptArtifactError(f"{name} is not safetensors: {error}") from None


# -- fingerprints: what keys say about networks and masks ----------------------------------


_FINGERPRINTS: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()


def model_fingerprint(model: nn.Module) -> str:
    """A short hash of a model's class and every tensor in its state dict (names, shapes, values).

    Memoized per model object: the harness never changes a network after building or loading it.
    """
    known = _FINGERPRINTS.get(model)
    if known is not None:
        return known
    with phase("fingerprints"):
        digest = hashlib.sha256(type(model).__name__.encode())
        for name, tensor in model.state_dict().items():
            digest.update(name.encode())
            digest.update(json.dumps(list(tensor.shape)).encode())
            digest.update(
                tensor.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy().tobytes()
            )
    _FINGERPRINTS[model] = digest.hexdigest()[:32]
    return _FINGERPRINTS[model]


def masks_fingerprint(masks: dict) -> str:
    """A short hash of a mask dict (names, shapes and values, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(masks):
        mask = masks[name].detach().to("cpu", torch.uint8).contiguous()
        digest.update(name.encode())
        digest.update(json.dumps(list(mask.shape)).encode())
        digest.update(mask.view(-1).numpy().tobytes())
    return digest.hexdigest()[:32]


def architecture_fingerprint(model: nn.Module) -> str:
    """A short hash of the module tree (layers, shapes, pooling): part of the parent's key, so a
    changed architecture is never served a parent trained for the old one."""
    return hashlib.sha256(repr(model).encode()).hexdigest()[:16]
