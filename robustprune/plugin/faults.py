"""A case that ends its process, or hangs, fails that case, not the run.

``os._exit`` inside a pruner (or anything a case runs) would end pytest on the spot: under
``-n 0`` with the pruner's exit status, so ``os._exit(0)`` looked like a passing run with no
output at all; under ``-n`` it killed the worker. While a benchmark case runs, ``os._exit`` in
this process raises :class:`CaseExitError` instead, which pytest reports as that case's failure.
Forked children (DataLoader workers) still exit for real. A process killed from outside
(OOM killer, segfault) cannot be stopped: under ``-n`` xdist then fails the case the worker was
running (see ``scheduling.py``).

``--rp-case-timeout SECONDS`` gives each case a deadline, as pytest-timeout's signal method does:
SIGALRM raises :class:`CaseTimeoutError` in the case, which fails it. A case stuck in native
code never returns to Python to see that exception; ``HARD_STOP_GRACE`` seconds later a
watchdog thread ends the process (pytest-timeout's thread method): under ``-n`` xdist fails the
case and replaces the worker, under ``-n 0`` the run stops with a message; what the case and
the others computed stays in the artifact store for the rerun.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

HARD_STOP_GRACE = 30.0
"""Seconds after the deadline before a case that does not return to Python ends its process."""


class CaseExitError(RuntimeError):
    """A benchmark case tried to end its process with ``os._exit``."""


class CaseTimeoutError(Exception):
    """A benchmark case ran past ``--rp-case-timeout``."""


@contextmanager
def exit_fails_the_case(case: str) -> Iterator[None]:
    """Within the block ``os._exit(status)`` in this process raises CaseExitError naming ``case``."""
    real_exit: Callable[[int], NoReturn] = os._exit
    owner = os.getpid()

    def refuse_exit(status: int) -> NoReturn:
        if os.getpid() != owner:  # a forked child (DataLoader worker): let it go
            real_exit(status)
        raise CaseExitError(
            f"{case} called os._exit({status}), which would have ended the whole pytest run "
            "(the pruner or plugin code it ran must raise an exception instead); this case fails "
            "and the others go on"
        )

    os._exit = refuse_exit
    try:
        yield
    finally:
        os._exit = real_exit


@contextmanager
def case_deadline(
    case: str, seconds: float | None, grace: float = HARD_STOP_GRACE
) -> Iterator[None]:
    """Within the block: CaseTimeoutError after ``seconds``; the process ends ``grace`` s later
    if the case has not returned to Python by then. No limit when ``seconds`` is None."""
    alarm = getattr(signal, "SIGALRM", None)
    if (
        seconds is None
        or alarm is None
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    real_exit = os._exit

    def timed_out(signum: int, frame: Any) -> NoReturn:
        raise CaseTimeoutError(
            f"{case} ran longer than --rp-case-timeout {seconds:g} s and was stopped; its "
            "finished steps are in the artifact store (a rerun resumes), the other cases go on"
        )

    def hard_stop() -> None:
        sys.__stderr__.write(
            f"\n[robustprune] {case} did not stop {grace:g} s after --rp-case-timeout "
            f"{seconds:g} s (stuck outside Python); ending this process. Finished artifacts are "
            "in the store; a rerun resumes from them.\n"
        )
        sys.__stderr__.flush()
        real_exit(1)

    previous = signal.signal(alarm, timed_out)
    watchdog = threading.Timer(seconds + grace, hard_stop)
    watchdog.daemon = True
    signal.setitimer(signal.ITIMER_REAL, seconds)
    watchdog.start()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        watchdog.cancel()
        signal.signal(alarm, previous)
