"""``--rp-ray``: this pytest session drives a Ray cluster that does the benchmark's work.

After collection (and ``-k``/``-m`` selection) the driver submits exactly the units the selected
cases need (robustprune.ray_tasks: shifts, parents, parent evaluations, curves, case
evaluations), each once, as Ray tasks with their dependencies as arguments. With
``--rp-ray-store driver`` the tasks send every artifact they build to a small actor on this
node that imports it into the driver's store at once (so a killed driver's next run finds every
finished step). A collector thread takes the tasks' results as they finish. The case fixtures wait
for their own units (:meth:`RayRun.wait`, through :class:`RayCases`) and then read parents and
curves from the store as in a ``-n 0`` run; the ``case_result`` fixture takes the case task's
CaseResult. A failed task fails
the cases that depend on it, with the remote traceback; the others run on.
"""

from __future__ import annotations

import queue
import socket
import threading
from dataclasses import replace
from typing import Any

import pytest

from robustprune.plugin.case_builders import skip_unless_cuda
from robustprune.plugin.faults import CaseTimeoutError
from robustprune.ray_tasks import MAX_RETRIES, Job, Unit, UnitResult, unit_plan

PLUGIN_NAME = "robustprune-ray"


class RayUnitError(RuntimeError):
    """A unit's task failed on the cluster (the message carries the remote traceback)."""


def get_ray_run(config: pytest.Config) -> RayRun | None:
    """This session's RayRun, or None when ``--rp-ray`` is off."""
    return config.pluginmanager.get_plugin(PLUGIN_NAME)


def register(config: pytest.Config) -> None:
    """Register the driver plugin (once) when ``--rp-ray`` is on."""
    from robustprune.plugin.options import get_options

    options = get_options(config)
    if options.ray is None or config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    check_reachable(options.ray)
    config.pluginmanager.register(RayRun(config, options), PLUGIN_NAME)


REACH_TIMEOUT_S = 5.0
"""How long ``--rp-ray HOST:PORT`` may take to accept a TCP connection before the run stops."""


def host_and_port(address: str) -> tuple[str, int] | None:
    """``("10.0.0.1", 6379)`` from ``10.0.0.1:6379``, ``ray://host:10001`` or ``[::1]:6379``;
    None for ``auto``, ``local`` or anything without a numeric port."""
    text = address.removeprefix("ray://")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_reachable(address: str) -> None:
    """A UsageError within seconds when ``--rp-ray HOST:PORT`` accepts no connection (ray.init
    itself retried for about 150 s, then failed with an INTERNALERROR)."""
    target = host_and_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=REACH_TIMEOUT_S):
            pass
    except OSError as error:
        raise pytest.UsageError(
            f"--rp-ray {address}: nothing accepts connections at {target[0]} port {target[1]} "
            f"({error.strerror or error}); start the cluster there (ray start --head "
            "--port ...), check the address, or use --rp-ray local"
        ) from None


class RayRun:
    """The driver side of ``--rp-ray``: connect, submit the units, collect their results."""

    def __init__(self, config: pytest.Config, options: Any) -> None:
        self.config, self.options = config, options
        self.events: dict[Unit, threading.Event] = {}
        self.results: dict[Unit, UnitResult] = {}
        self.errors: dict[Unit, str] = {}
        self.gpus = False
        self.connected = False
        self.stopping = threading.Event()
        self.collector: threading.Thread | None = None
        self.failure: str | None = None
        self.finished_lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        """Lines about finished units, echoed by the waiting tests (see :meth:`echo_finished`)."""
        self.refs: dict[Unit, Any] = {}
        """Each submitted unit's result reference (to cancel a timed-out case's own tasks)."""

    # -- submission ------------------------------------------------------------------------

    def connect(self) -> None:
        import ray

        address = self.options.ray
        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address == "local":
            kwargs["include_dashboard"] = False
        else:
            kwargs["address"] = address
        try:
            ray.init(**kwargs)
        except Exception as error:  # noqa: BLE001 - whatever ray.init raises: one line, no INTERNALERROR
            raise pytest.UsageError(
                f"--rp-ray {address}: cannot reach a Ray cluster: {error} (a cluster with token "
                "authentication needs its token here and, before Ray 2.61, RAY_AUTH_MODE=token: "
                "docs/ray.md, 'Token authentication')"
            ) from None
        self.connected = True
        self.gpus = ray.cluster_resources().get("GPU", 0) > 0

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Submit the work of the selected cases (nothing under ``--collect-only``)."""
        if session.config.option.collectonly:
            return
        cases = {}
        for item in session.items:
            callspec = getattr(item, "callspec", None)
            case = callspec.params.get("case") if callspec is not None else None
            if case is not None and hasattr(case, "suite"):
                cases.setdefault((case.arch, case.method), case)
        if not cases:
            return
        self.connect()
        suite = next(iter(cases.values())).suite
        if suite.gpu and not self.gpus:
            return  # the fixtures skip these cases
        self.submit(suite, list(cases.values()))

    def submit(self, suite: Any, cases: list[Any]) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from robustprune.device import benchmark_threads
        from robustprune.plugin.registries import get_pruner_registry
        from robustprune.ray_tasks import DriverStore, run_unit, ship_by_value

        registry = get_pruner_registry(self.config)
        # by registered class name: a suite's labels of one class share it
        classes = {case.method: suite.pruner_spec(case.method).pruner for case in cases}
        pruners = {name: registry.get(name) for name in classes.values()}
        ship_by_value(list(pruners.values()))
        store_root = str(self.options.cache.resolve())
        shared = self.options.ray_store == "shared"
        driver = None
        if not shared:
            node = ray.get_runtime_context().get_node_id()
            driver = (
                ray.remote(num_cpus=0)(DriverStore)
                .options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False))
                .remote(store_root)
            )
        resources = {"num_gpus": 1} if self.gpus else {"num_cpus": 1}
        task = ray.remote(run_unit)
        refs: dict[Unit, tuple[Any, Any]] = {}  # (UnitResult, its files) per unit
        threads = benchmark_threads()
        by_arch_method = {(case.arch, case.method): case for case in cases}
        for unit, needs in unit_plan(cases, suite.seeds).items():
            uses = {}
            if unit.kind in ("curve", "case"):
                uses = {classes[unit.method]: pruners[classes[unit.method]]}
            job = Job(
                unit=unit,
                suite=suite,
                case=by_arch_method[(unit.arch, unit.method)] if unit.kind == "case" else None,
                pruners=uses,
                data_root=None if self.options.data is None else str(self.options.data),
                store_root=store_root if shared else None,
                threads=threads,
            )
            options = dict(max_retries=MAX_RETRIES, retry_exceptions=False, **resources)
            refs[unit] = task.options(name=unit.label, num_returns=2, **options).remote(
                job, driver, *(ref for need in needs for ref in refs[need])
            )
            self.events[unit] = threading.Event()
        self.driver = driver  # keep the actor alive while tasks may call it
        self.refs = {unit: ref for unit, (ref, _files) in refs.items()}
        self.say(
            f"ray: {len(refs)} tasks for {len(cases)} case{'s' * (len(cases) != 1)} on "
            f"{'GPUs' if self.gpus else 'CPUs'} of the cluster; artifacts in "
            f"{store_root} ({self.options.ray_store} store)"
        )
        self.collector = threading.Thread(
            target=self.collect, args=({ref: unit for unit, (ref, _) in refs.items()},),
            name="robustprune-ray-collector", daemon=True,
        )  # fmt: skip
        self.collector.start()

    def say(self, line: str) -> None:
        from robustprune.plugin.eta import echo_progress
        from robustprune.plugin.terminal import echo_line

        if echo_progress(self.config):
            echo_line(self.config, f"[robustprune] {line}")

    # -- results ---------------------------------------------------------------------------

    def collect(self, pending: dict[Any, Unit]) -> None:
        """Take each unit's result as its task finishes (its artifacts are in the store by then)."""
        import ray

        try:
            while pending and not self.stopping.is_set():
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0.5)
                for ref in ready:
                    unit = pending.pop(ref)
                    try:
                        self.results[unit] = ray.get(ref)
                        info = self.results[unit].info
                        outcome = info.get("origin") or ("skipped" if "skip" in info else "done")
                    except Exception as error:  # noqa: BLE001 - reported by the waiting cases
                        self.errors[unit] = str(error)
                        outcome = "FAILED"
                    self.events[unit].set()
                    done = len(self.events) - len(pending)
                    self.finished_lines.put(
                        f"ray {done}/{len(self.events)}: {unit.label} {outcome}"
                    )
        except Exception as error:  # noqa: BLE001 - e.g. the cluster went away
            self.failure = f"{type(error).__name__}: {error}"
            for event in self.events.values():
                event.set()

    def wait(self, unit: Unit, case: Any = None) -> UnitResult:
        """The unit's result once its task finished; RayUnitError (remote traceback) when it
        failed. A ``case`` that times out while waiting has its own tasks cancelled."""
        event = self.events.get(unit)
        if event is None:
            raise RayUnitError(f"--rp-ray: {unit.label} was not submitted")
        try:
            while not event.wait(0.5):
                self.echo_finished()
        except CaseTimeoutError:
            if case is not None:
                self.cancel_case(case.arch, case.method)
            raise
        self.echo_finished()
        if unit in self.errors:
            raise RayUnitError(f"{unit.label} failed on the Ray cluster:\n{self.errors[unit]}")
        if unit not in self.results:
            raise RayUnitError(f"--rp-ray: lost the Ray cluster: {self.failure}")
        return self.results[unit]

    def cancel_case(self, arch: str, method: str) -> None:
        """Cancel the unfinished tasks that only this case needs (its curves and its evaluation;
        parents are shared with the architecture's other methods), so a case that ran past
        ``--rp-case-timeout`` stops holding a slot of the cluster."""
        import ray

        for unit, ref in self.refs.items():
            own = unit.kind in ("curve", "case") and (unit.arch, unit.method) == (arch, method)
            if own and not self.events[unit].is_set():
                ray.cancel(ref, force=True)

    def echo_finished(self) -> None:
        """Echo the lines of units finished since the last call (from the test's own thread,
        with pytest's capture lifted, so they reach the terminal while a test waits)."""
        from robustprune.plugin.eta import echo_progress
        from robustprune.plugin.terminal import echo_line

        while not self.finished_lines.empty():
            line = self.finished_lines.get()
            if echo_progress(self.config):
                echo_line(self.config, f"[robustprune] {line}", in_test=True)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.stopping.set()
        if self.collector is not None:
            self.collector.join(timeout=5)
        if self.connected:
            import ray

            ray.shutdown()


# -- the case builder of a --rp-ray run (robustprune.plugin.fixtures) -----------------------


def _skip_if_missing(result: UnitResult) -> UnitResult:
    if "skip" in result.info:
        pytest.skip(result.info["skip"])
    return result


class RayCases:
    """A case's parents, curves and result as the Ray cluster's tasks built them: waits for
    each task, then reads its artifacts from the store (with the task's origin and time)."""

    def __init__(self, run: RayRun, runner: Any) -> None:
        self.run, self.runner = run, runner

    def parents(self, case: Any) -> list[Any]:
        skip_unless_cuda(self.runner.suite, self.run.gpus, "the Ray cluster has none")
        built = []
        for seed in self.runner.suite.seeds:
            info = _skip_if_missing(self.run.wait(Unit("parent", case.arch, seed=seed), case)).info
            built.append(replace(self.runner.parent(case.arch, seed), **_facts(info)))
        return built

    def curves(self, case: Any, parents: list[Any]) -> list[Any]:
        built = []
        for seed in self.runner.suite.seeds:
            unit = Unit("curve", case.arch, case.method, seed)
            info = _skip_if_missing(self.run.wait(unit, case)).info
            built.append(replace(self.runner.curve(case.arch, case.method, seed), **_facts(info)))
        return built

    def case_result(self, case: Any, parents: list[Any], curves: list[Any]) -> Any:
        """The CaseResult the case's task measured."""
        unit = Unit("case", case.arch, case.method)
        return _skip_if_missing(self.run.wait(unit, case)).info["result"]


def _facts(info: dict[str, Any]) -> dict[str, Any]:
    return {"origin": info["origin"], "seconds": info["seconds"]}
