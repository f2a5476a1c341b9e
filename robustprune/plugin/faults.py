"""A case that ends its process fails that case, not the run.

``os._exit`` inside a pruner (or anything a case runs) would end pytest on the spot: under
``-n 0`` with the pruner's exit status, so ``os._exit(0)`` looked like a passing run with no
output at all; under ``-n`` it killed the worker. While a benchmark case runs, ``os._exit`` in
this process raises :class:`CaseExitError` instead, which pytest reports as that case's failure.
Forked children (DataLoader workers) still exit for real. A process killed from outside
(OOM killer, segfault) cannot be stopped: under ``-n`` xdist then fails the case the worker was
running (see ``scheduling.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn


class CaseExitError(RuntimeError):
    """A benchmark case tried to end its process with ``os._exit``."""


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
