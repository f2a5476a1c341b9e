"""Progress lines written by workers reach the controller's terminal, whole and in order."""

from __future__ import annotations

import time
from pathlib import Path

from robustprune.progress import ProgressTail, file_sink, new_progress_path


def test_tail_echoes_complete_lines_in_order_and_cleans_up(tmp_path: Path) -> None:
    path = new_progress_path(tmp_path)
    seen: list[str] = []
    tail = ProgressTail(path, seen.append, interval=0.05).start()
    worker0, worker1 = file_sink(path, "[gw0]"), file_sink(path, "[gw1]")
    worker0("training parent digits/resnet20 seed 0 (15 epochs)")
    worker1("reusing cached parent digits/vgg11_bn seed 0")
    with open(path, "a") as stream:
        stream.write("[gw0] half a li")  # a line still being written is not echoed yet
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen == [
        "[gw0] training parent digits/resnet20 seed 0 (15 epochs)",
        "[gw1] reusing cached parent digits/vgg11_bn seed 0",
    ]
    with open(path, "a") as stream:
        stream.write("ne\n")
    tail.stop()
    assert seen[-1] == "[gw0] half a line"
    assert not path.exists()
