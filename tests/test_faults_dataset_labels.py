"""Labels are checked when a dataset loads, naming the dataset, split, loader or file: a label
outside the classes is an error there, not an IndexError deep in training, and 255 is an ignore
label only where the dataset declares one (VOC)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from test_data_cifar import _write_cifar10

from robustprune.data import DatasetSplits, ImageSet, LabelRangeError, load_dataset
from robustprune.data.core import DATASETS, register_dataset

NAME = "labels_probe"


def splits(
    labels: list[int], info: dict | None = None, segmentation: bool = False
) -> DatasetSplits:
    count = len(labels)
    shape = (count, 4, 4) if segmentation else (count,)
    values = torch.tensor(labels, dtype=torch.int64)
    label_tensor = values.view(count, 1, 1).expand(shape).contiguous() if segmentation else values
    images = ImageSet(torch.rand(count, 1, 4, 4), label_tensor)
    return DatasetSplits(NAME, images, images, images, 10, (0.5,), (0.25,), info=info or {})


@pytest.fixture
def register() -> Iterator:
    names = []

    def add(data: DatasetSplits) -> None:
        register_dataset(NAME, origin="test")(lambda root: data)
        names.append(NAME)

    yield add
    for name in names:
        DATASETS.unregister(name)


@pytest.mark.parametrize("bad", [10, -1])
def test_label_out_of_range_is_an_error_when_data_loads_naming_dataset_and_split(
    register, bad: int
) -> None:
    register(splits([0, 1, bad, 3]))
    with pytest.raises(LabelRangeError) as error:
        load_dataset(NAME)
    message = str(error.value)
    assert f"dataset {NAME!r}" in message and "the train split has 1 label(s)" in message
    assert f"e.g. [{bad}]; valid: 0..9" in message and "loaded by " in message


def test_label_255_on_a_classification_dataset_is_refused_not_ignored(register) -> None:
    register(splits([0, 255, 2]))
    with pytest.raises(LabelRangeError, match="255 is an ignore label only for a dataset"):
        load_dataset(NAME)


def test_label_255_is_ignored_where_the_dataset_declares_it(register) -> None:
    register(splits([0, 255, 2], info={"ignore_index": 255}, segmentation=True))
    assert load_dataset(NAME).num_classes == 10
    DATASETS.unregister(NAME)
    register_dataset(NAME, origin="test")(lambda root: splits([0, 254], {"ignore_index": 255}))
    with pytest.raises(LabelRangeError, match=r"valid: 0..9 or the ignore label 255"):
        load_dataset(NAME)


def test_cifar_label_out_of_range_names_the_batch_file(tmp_path: Path) -> None:
    _write_cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    with open(batch, "rb") as handle:
        content = pickle.load(handle, encoding="bytes")
    content[b"labels"][0] = 10
    with open(batch, "wb") as handle:
        pickle.dump(content, handle, protocol=2)
    with pytest.raises(ValueError, match=rf"{batch}: 1 label\(s\) outside the 10 classes"):
        load_dataset("cifar10", tmp_path)


def test_corrupt_cifar_pickle_names_the_file(tmp_path: Path) -> None:
    _write_cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(batch.read_bytes()[:100])  # truncated download
    with pytest.raises(Exception, match=rf"{batch} is not a readable CIFAR batch"):
        load_dataset("cifar10", tmp_path)
