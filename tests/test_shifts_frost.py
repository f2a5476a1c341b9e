"""The optional reference frost pictures: <data root>/frost/frost1..5.(png|jpg), used when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from robustprune.data import DatasetSplits, ImageSet
from robustprune.data.shifts import corrupt, shifted_test_set
from robustprune.data.shifts.frost_pictures import frost_picture_paths

LEVELS = (40, 80, 120, 160, 200)  # picture i is one flat grey level


def _pictures(root: Path, count: int = 5, ramp: bool = False) -> Path:
    folder = root / "frost"
    folder.mkdir(parents=True)
    for i in range(count):
        array = np.full((260, 300, 3), LEVELS[i], dtype=np.uint8)
        if ramp:  # columns 0..299 -> levels 0..255 (resized by 0.2: ~60 columns)
            array[:] = np.linspace(0, 255, 300, dtype=np.uint8)[None, :, None]
        extension = ".png" if i < 3 else ".jpg"  # as the generator's frost1-3.png, frost4-5.jpg
        Image.fromarray(array).save(folder / f"frost{i + 1}{extension}", quality=100)
    return root


def test_pictures_are_used_when_present(tmp_path: Path) -> None:
    root = _pictures(tmp_path)
    x = torch.rand(40, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = corrupt(x, "frost", 3, seed=1, root=root)  # 0.9·x + 0.4·picture crop
    crop = (out.clamp(0, 1) - 0.9 * x) / 0.4
    unclipped = out < 1
    levels = torch.tensor(LEVELS, dtype=torch.float32) / 255
    per_image = [crop[i][unclipped[i]].median() for i in range(40)]
    picked = [int((levels - v).abs().argmin()) for v in per_image]
    assert all(
        float((levels[p] - v).abs()) < 2 / 255 for p, v in zip(picked, per_image, strict=True)
    )
    assert len(set(picked)) == 5  # every picture is drawn
    assert not torch.equal(out, corrupt(x, "frost", 3, seed=1))  # procedural textures otherwise


def test_crops_are_windows_of_the_shrunk_picture(tmp_path: Path) -> None:
    root = _pictures(tmp_path, ramp=True)
    x = torch.zeros(30, 1, 8, 8)
    crop = corrupt(x, "frost", 1, seed=2, root=root) / 0.2  # 1·x + 0.2·crop
    steps = crop[:, 0, :, 1:] - crop[:, 0, :, :-1]
    assert (steps > 0).all()  # a window of the left-to-right ramp: rising along every row
    assert (crop[:, 0, 1:] - crop[:, 0, :-1]).abs().max() < 1e-5  # and constant down columns
    lefts = crop[:, 0, 0, 0]
    assert lefts.max() - lefts.min() > 0.2  # at different positions


def test_a_partial_set_names_what_is_missing(tmp_path: Path) -> None:
    _pictures(tmp_path, count=3)
    with pytest.raises(FileNotFoundError, match=r"frost4.png/.jpg.*frost5.png/.jpg"):
        frost_picture_paths(tmp_path)
    assert frost_picture_paths(tmp_path / "elsewhere") is None
    assert frost_picture_paths(None) is None


def test_shifted_test_set_uses_the_data_root_and_keys_the_cache(tmp_path: Path) -> None:
    images = (torch.rand(12, 3, 32, 32, generator=torch.Generator().manual_seed(3)) * 255).to(
        torch.uint8
    )
    data = ImageSet(images, torch.arange(12) % 10)
    splits = DatasetSplits("toy", data, data, data, 10, (0.5,) * 3, (0.25,) * 3)

    class Store:
        keys: list[dict] = []

        def get_or_create(self, kind, key, build):  # type: ignore[no-untyped-def]
            self.keys.append(key)
            tensors, meta = build()
            return type("Artifact", (), {"tensors": tensors, "meta": meta})()

    store = Store()
    plain, _ = shifted_test_set(splits, "corruption:frost:2", seed=4, root=tmp_path, store=store)
    _pictures(tmp_path)
    real, _ = shifted_test_set(splits, "corruption:frost:2", seed=4, root=tmp_path, store=store)
    assert "frost_pictures" not in store.keys[0] and len(store.keys[1]["frost_pictures"]) == 12
    assert torch.equal(real.images, corrupt(images, "frost", 2, seed=4, root=tmp_path))
    assert not torch.equal(real.images, plain.images)
