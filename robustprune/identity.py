"""What computed an artifact: code identities and data digests for cache keys and records.

Every artifact key in the store names the code that computed it, so editing that code
recomputes exactly what it computed and nothing else:

- a plugin (a pruner class, a model constructor, a dataset loader, a corruption function):
  a digest of the source of its module and of the object itself, the installed distribution
  and its version when there is one, and the object's optional ``version`` attribute;
- a built-in (code inside ``robustprune``): a digest of its module and of every module of the
  same sub-package it imports, directly or not (``robustprune.pruning.magnitude`` covers
  ``pruning/base.py``, ``budget.py``, ... but not ``pfp.py``).

Source digests are taken from the parsed code with docstrings removed, so comments,
docstrings and formatting do not count; any other edit does. Data are named by a digest of
the tensors a loader returned (:func:`data_digest`). The machine class lives in
:mod:`robustprune.machine`.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import importlib.util
import inspect
import json
import marshal
import sys
import types
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PACKAGE = "robustprune"

_IDENTITIES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_SOURCES: dict[tuple[str, int, int], str] = {}


_SHIPPED_IDENTITY = "_robustprune_code_identity"
"""Class attribute holding a plugin class's identity, so a copy shipped by value (Ray) keeps the
identity computed where its source file was readable."""


def _sha(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:24]


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def normalized_source(text: str) -> str:
    """``text`` as parsed code without docstrings (ast.dump): comments, docstrings and
    formatting do not change it; text that does not parse is returned as it is."""
    try:
        return ast.dump(_without_docstrings(ast.parse(text)))
    except (SyntaxError, ValueError):
        return text


def read_source(path: str | Path) -> str | None:
    """The normalized source of the file at ``path`` (cached per path, size and mtime), or
    None when it cannot be read."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    marker = (str(path), stat.st_mtime_ns, stat.st_size)
    if marker not in _SOURCES:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        _SOURCES[marker] = normalized_source(text)
    return _SOURCES[marker]


def _defining_file(obj: Any) -> str | None:
    """The file ``obj``'s code was compiled from (a function's, or a class's first method's).

    Looking the module up by name is not enough: several conftest.py files are all modules
    named "conftest", and which one ``sys.modules`` holds depends on the import order."""
    functions = [obj] if hasattr(obj, "__code__") else list(vars(obj).values())
    for function in functions:
        code = getattr(getattr(function, "__func__", function), "__code__", None)
        if code is not None and code.co_filename.endswith(".py"):
            return code.co_filename
    return None


def _module_path(name: str) -> str | None:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if path is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        path = spec.origin if spec is not None else None
    return path if path and path.endswith(".py") else None


_IMPORTS: dict[tuple[str, str, str, int, int], set[str]] = {}


def _imports(name: str, path: str, scope: str) -> set[str]:
    """The modules inside ``scope`` that ``name`` (at ``path``) imports: ``import a.b``,
    ``from a import b`` (a, and a.b when it is a module), relative imports resolved. Cached
    per file size and mtime."""
    try:
        stat = Path(path).stat()
    except OSError:
        return set()
    marker = (name, path, scope, stat.st_mtime_ns, stat.st_size)
    if marker not in _IMPORTS:
        _IMPORTS[marker] = _parse_imports(name, path, scope)
    return _IMPORTS[marker]


def _parse_imports(name: str, path: str, scope: str) -> set[str]:
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return set()
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            if _within(module, scope):
                found.update(
                    f"{module}.{alias.name}"
                    for alias in node.names
                    if _module_path(f"{module}.{alias.name}") is not None
                )
    return {module for module in found if _within(module, scope)}


def _within(module: str, scope: str) -> bool:
    return module == scope or module.startswith(scope + ".")


def builtin_digest(module_name: str) -> str:
    """A digest of the built-in module ``module_name`` and every module of its sub-package
    (``robustprune.pruning`` for ``robustprune.pruning.sipp``) that it imports, transitively.
    A top-level module (``robustprune.train``) covers itself only."""
    parts = module_name.split(".")
    scope = ".".join(parts[:2]) if len(parts) > 2 else module_name
    seen: dict[str, str] = {}
    pending = [module_name]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        path = _module_path(name)
        if path is None:
            continue
        seen[name] = read_source(path) or ""
        pending += sorted(_imports(name, path, scope))
    return _sha(json.dumps(sorted(seen.items())))


def _code_digest(code: types.CodeType) -> str:
    """A digest of a code object without its file name and line numbers (for objects whose
    source file is unknown, e.g. a class shipped by value to a Ray task)."""
    parts: list[Any] = [code.co_code, code.co_names, code.co_varnames]
    for constant in code.co_consts:
        parts.append(
            _code_digest(constant) if isinstance(constant, types.CodeType) else repr(constant)
        )
    return _sha(marshal.dumps(repr(parts)))


def _object_source(obj: Any) -> str:
    """A digest of ``obj``'s own code: its source, else its functions' byte code."""
    try:
        if not isinstance(obj, type):
            return _sha(normalized_source(inspect.getsource(obj)))
        # a class's source is found through its module's name, which several conftest.py
        # files share: take its functions' sources (found through their code) and its values
        members = sorted(
            (name, normalized_source(inspect.getsource(getattr(value, "__func__", value))))
            if callable(getattr(value, "__func__", value))
            and hasattr(getattr(value, "__func__", value), "__code__")
            else (name, repr(value) if isinstance(value, str | int | float | bool) else "")
            for name, value in vars(obj).items()
            if not name.startswith("__") and name != _SHIPPED_IDENTITY
        )
        return _sha(json.dumps(members))
    except (OSError, TypeError, IndentationError):
        pass
    code = getattr(obj, "__code__", None)
    if code is not None:
        return _code_digest(code)
    functions = sorted(
        (name, _code_digest(value.__code__))
        for name, value in vars(obj).items()
        if hasattr(value, "__code__")
    )
    return _sha(json.dumps(functions))


def _distribution(module_name: str) -> tuple[str | None, str | None]:
    """``(name, version)`` of the installed distribution providing ``module_name``: the one whose
    robustprune entry point names that module's top-level package, else the one that ships it."""
    from robustprune.extensions import GROUPS

    top = module_name.split(".")[0]
    for group in GROUPS.values():
        for entry_point in importlib.metadata.entry_points(group=group):
            if entry_point.module.split(".")[0] == top and entry_point.dist is not None:
                return entry_point.dist.metadata["Name"], entry_point.dist.version
    for name in _packages_distributions().get(top, []):
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    """Top-level package -> distributions shipping it (scanned once per process)."""
    try:
        return dict(importlib.metadata.packages_distributions())
    except Exception:  # noqa: BLE001 - a broken installation must not stop a run
        return {}


def is_builtin(obj: Any) -> bool:
    """Whether ``obj`` (a class or function) is defined inside robustprune."""
    module = getattr(obj, "__module__", "") or ""
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def code_identity(obj: Any) -> dict[str, Any]:
    """What a cache key needs to know about the code of ``obj`` (a class or a function).

    Built-in: ``{"builtin": digest}`` (:func:`builtin_digest` of its module). Plugin:
    ``{"module", "qualname", "source", "distribution", "version"}``: ``source`` digests the
    object's module and its own code, ``distribution``/``version`` name the installed
    distribution (None when it is not installed, e.g. a conftest.py). Either way an optional
    ``version`` attribute of the object is added as ``declared_version``. Memoized per object.
    """
    try:
        known = _IDENTITIES.get(obj)
    except TypeError:  # not weak-referenceable
        known = None
    if known is None and isinstance(obj, type):
        # computed where the class was imported from its file, and shipped by value with it
        # (to a Ray task, where its module and source file may be out of reach)
        known = vars(obj).get(_SHIPPED_IDENTITY)
    if known is not None:
        return known
    module_name = getattr(obj, "__module__", None) or ""
    identity: dict[str, Any]
    if is_builtin(obj):
        identity = {"builtin": builtin_digest(module_name)}
    else:
        path = _defining_file(obj) or _module_path(module_name)
        module_source = read_source(path) if path else None
        distribution, version = _distribution(module_name)
        identity = {
            "module": module_name,
            "qualname": getattr(obj, "__qualname__", repr(obj)),
            "source": _sha(f"{module_source or ''}\0{_object_source(obj)}"),
            "distribution": distribution,
            "version": version,
        }
    declared = getattr(obj, "version", None)
    if isinstance(declared, str | int | float) and not isinstance(declared, bool):
        identity["declared_version"] = declared
    try:
        _IDENTITIES[obj] = identity
    except TypeError:
        pass
    if isinstance(obj, type) and not is_builtin(obj):
        try:
            setattr(obj, _SHIPPED_IDENTITY, identity)
        except (AttributeError, TypeError):  # a class that refuses new attributes
            pass
    return identity


def provenance(kind: str, name: str, obj: Any) -> dict[str, Any] | None:
    """A record's line about a plugin ``obj`` registered as ``name`` in ``kind`` (pruner, model,
    dataset, shift): its module, distribution, version and source digest; None for a built-in."""
    if is_builtin(obj):
        return None
    identity = code_identity(obj)
    entry = {"kind": kind, "name": name}
    entry.update({k: identity.get(k) for k in ("module", "distribution", "version", "source")})
    if "declared_version" in identity:
        entry["declared_version"] = identity["declared_version"]
    return entry


def registered_provenance(origin: str, obj: Any, group: str) -> dict[str, Any]:
    """Where an object registered from ``origin`` comes from: ``{"origin", "distribution",
    "version"}``. A built-in: robustprune and its version; an entry point of ``group``: the
    distribution declaring it, from its metadata; anything else (a conftest.py's registration,
    a class shipped to a Ray task): the origin only, distribution and version null."""
    from robustprune.extensions import entry_point_origin

    if is_builtin(obj):
        from robustprune import __version__

        return {"origin": origin, "distribution": PACKAGE, "version": __version__}
    for entry_point in importlib.metadata.entry_points(group=group):
        if entry_point.dist is not None and entry_point_origin(entry_point, group) == origin:
            dist = entry_point.dist
            return {
                "origin": origin,
                "distribution": dist.metadata["Name"],
                "version": dist.version,
            }
    return {"origin": origin, "distribution": None, "version": None}


def tensor_digest(*tensors: Any) -> str:
    """A digest of tensors' dtypes, shapes and values (CPU bytes), in order."""
    digest = hashlib.sha256()
    for tensor in tensors:
        plain = tensor.detach().to("cpu").contiguous()
        digest.update(f"{plain.dtype}{tuple(plain.shape)}".encode())
        digest.update(plain.view(-1).view(_uint8()).numpy().tobytes())
    return digest.hexdigest()[:24]


def _uint8() -> Any:
    import torch

    return torch.uint8


_IMAGE_DIGESTS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def images_digest(source: Any) -> str:
    """A digest of an image set: its images and labels (an ImageSet), else its type, length and
    file list (sets decoded from files per batch). Memoized per set object."""
    try:
        known = _IMAGE_DIGESTS.get(source)
    except TypeError:
        known = None
    if known is None:
        known = _images_digest(source)
        try:
            _IMAGE_DIGESTS[source] = known
        except TypeError:
            pass
    return known


def _images_digest(source: Any) -> str:
    images = getattr(source, "images", None)
    if images is not None and hasattr(images, "detach"):  # an ImageSet: tensors in memory
        return tensor_digest(images, source.labels)
    # decoded from files per batch: the file lists, labels held in memory, decoding settings
    parts: list[Any] = [type(source).__qualname__, len(source)]
    attributes = vars(source) if hasattr(source, "__dict__") else {}
    for name, value in sorted(attributes.items()):
        if isinstance(value, list | tuple):
            parts.append([name, [str(item) for item in value]])
        elif isinstance(value, str | int | float | bool) and name != "workers":
            parts.append([name, value])
        elif hasattr(value, "detach"):
            parts.append([name, tensor_digest(value)])
    return _sha(json.dumps(parts, default=str))


def data_digest(data: Any) -> str:
    """A digest of what a dataset loader returned (a DatasetSplits): every split's images and
    labels, the class count, normalization and augmentation."""
    parts = [
        getattr(data, "name", ""),
        images_digest(data.train),
        images_digest(data.val),
        images_digest(data.test),
        data.num_classes,
        list(data.mean),
        list(data.std),
        data.augment,
    ]
    return _sha(json.dumps(parts, default=str))


def run_provenance(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What a leaderboard's or stored run's ``environment`` says about its records' code and
    machines: ``machine_class`` (one, or ``{"label": "a + b", "classes": [...]}`` for several),
    ``plugins`` (every plugin the records ran, once) and ``pruners`` (each pruner class's
    origin, distribution and version, by class name); empty for records written before
    robustprune recorded them."""
    classes: dict[str, dict[str, Any]] = {}
    plugins: dict[str, dict[str, Any]] = {}
    pruners: dict[str, dict[str, Any]] = {}
    for record in records:
        environment = record.get("environment") or {}
        if isinstance(record.get("pruner"), dict) and isinstance(environment.get("pruner"), dict):
            pruners.setdefault(str(record["pruner"].get("class")), environment["pruner"])
        machine = environment.get("machine_class")
        if isinstance(machine, dict) and machine.get("label"):
            classes.setdefault(str(machine["label"]), machine)
        for entry in environment.get("plugins") or []:
            if isinstance(entry, dict):
                plugins.setdefault(json.dumps(entry, sort_keys=True, default=str), entry)
    provenance: dict[str, Any] = {}
    if len(classes) == 1:
        provenance["machine_class"] = next(iter(classes.values()))
    elif classes:
        provenance["machine_class"] = {
            "label": " + ".join(sorted(classes)),
            "classes": [classes[label] for label in sorted(classes)],
        }
    if plugins:
        provenance["plugins"] = [plugins[key] for key in sorted(plugins)]
    if pruners:
        provenance["pruners"] = {name: pruners[name] for name in sorted(pruners)}
    return provenance
