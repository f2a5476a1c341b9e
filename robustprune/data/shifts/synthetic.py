"""Random-but-structured test images (smooth colour fields, edges, shapes, fine texture) for the
corruption tests and benchmark, so blurs and warps have something to act on."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def structured_images(
    count: int, channels: int = 3, size: tuple[int, int] = (32, 32), seed: int = 0
) -> Tensor:
    """`count` uint8 images N×channels×H×W: a bicubic-upsampled 4×4 colour field, three random
    rectangles and a disk in random colours, and ±8 grey levels of pixel noise."""
    generator = torch.Generator().manual_seed(seed)
    h, w = size
    field = torch.rand(count, channels, 4, 4, generator=generator)
    images = F.interpolate(field, size=(h, w), mode="bicubic", align_corners=False)
    ys = torch.arange(h, dtype=torch.float32)[None, :, None]
    xs = torch.arange(w, dtype=torch.float32)[None, None, :]
    for _ in range(3):
        corner = torch.rand(count, 2, generator=generator) * torch.tensor([h, w]) * 0.8
        extent = (torch.rand(count, 2, generator=generator) * 0.5 + 0.15) * torch.tensor([h, w])
        inside = (
            (ys >= corner[:, 0, None, None])
            & (ys < (corner + extent)[:, 0, None, None])
            & (xs >= corner[:, 1, None, None])
            & (xs < (corner + extent)[:, 1, None, None])
        )
        color = torch.rand(count, channels, 1, 1, generator=generator)
        images = torch.where(inside[:, None], color, images)
    centre = torch.rand(count, 2, generator=generator) * torch.tensor([h, w])
    radius = (torch.rand(count, generator=generator) * 0.2 + 0.1) * min(h, w)
    disk = (ys - centre[:, 0, None, None]) ** 2 + (xs - centre[:, 1, None, None]) ** 2 <= radius[
        :, None, None
    ] ** 2
    images = torch.where(
        disk[:, None], torch.rand(count, channels, 1, 1, generator=generator), images
    )
    images = images + (torch.rand(count, channels, h, w, generator=generator) - 0.5) * (16 / 255)
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)
