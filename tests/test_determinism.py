"""Benchmark numbers must not depend on how the run is split over processes (-n 0 / 2 / 4).

The torch thread count changes the order of float reductions, so a parent trained with 4
threads differs bit-wise from one trained with 1 and prune potential moves by grid steps
(docs/statistics.md#determinism). ``configure_worker`` therefore gives every benchmark process
the same thread count whatever the number of workers and cores.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
import torch

from robustprune import device as rp_device
from robustprune.data import load_dataset
from robustprune.models import create
from robustprune.recipes import get_recipe
from robustprune.train import train


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _trained_weights_digest(data) -> str:
    torch.manual_seed(0)
    model = create("vgg11_bn_slim", 10, 1, (8, 8))
    train(model, data, replace(get_recipe("digits"), epochs=1), 0, "cpu")
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def test_training_is_bit_identical_under_n0_n2_n4(monkeypatch, restore_threads) -> None:
    monkeypatch.delenv("ROBUSTPRUNE_THREADS", raising=False)
    monkeypatch.setattr(rp_device.os, "cpu_count", lambda: 4)  # cores // workers = 4, 2, 1
    data = load_dataset("digits")
    digests = {}
    for worker_id, workers in [(None, 1), ("gw1", 2), ("gw3", 4)]:  # -n 0, -n 2, -n 4
        rp_device.configure_worker(worker_id, workers)
        digests[workers] = (torch.get_num_threads(), _trained_weights_digest(data))
    assert len(set(digests.values())) == 1, f"(threads, weights digest) by worker count: {digests}"
