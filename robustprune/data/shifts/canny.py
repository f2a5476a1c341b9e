"""OpenCV's Canny edge detector (`cv2.Canny(image, low, high)`: 3×3 Sobel, L1 gradient) on a
batch of 8-bit images, in torch: Sobel gradients, non-maximum suppression in four directions
with OpenCV's integer sector test, double threshold, and 8-connected hysteresis.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from robustprune.data.shifts import ops

CANNY_SHIFT = 15
TG22 = 13573  # round(tan(22.5°)·2^15), OpenCV's fixed-point sector boundary


def sobel(levels: Tensor) -> tuple[Tensor, Tensor]:
    """3×3 Sobel derivatives (d/dx, d/dy) of N×H×W `levels`, border replicated (as Canny's)."""
    padded = ops.pad(levels[:, None], 1, 1, 1, 1, "nearest")[:, 0]
    h, w = levels.shape[-2:]

    def at(dy: int, dx: int) -> Tensor:
        return padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    gx = (at(-1, 1) - at(-1, -1)) + 2 * (at(0, 1) - at(0, -1)) + (at(1, 1) - at(1, -1))
    gy = (at(1, -1) - at(-1, -1)) + 2 * (at(1, 0) - at(-1, 0)) + (at(1, 1) - at(-1, 1))
    return gx, gy


def canny(levels: Tensor, low: float, high: float) -> Tensor:
    """Edges (bool N×H×W) of N×H×W images holding integer levels 0..255 (any float or int dtype),
    as `cv2.Canny(image, low, high)` with aperture 3 and the L1 gradient |dx| + |dy|.

    A pixel is a candidate when its magnitude exceeds floor(low) and is a local maximum across
    the gradient (neighbours outside the image count as 0); candidates above floor(high) are
    edges, and so is every candidate 8-connected to an edge (hysteresis)."""
    if levels.ndim != 3:
        raise ValueError(f"canny needs N×H×W images, got shape {tuple(levels.shape)}")
    low_level, high_level = int(low // 1), int(high // 1)
    if low_level > high_level:
        low_level, high_level = high_level, low_level
    gx, gy = sobel(levels.to(torch.float32))  # integers up to ±1020: exact in float32
    gx, gy = gx.round().to(torch.int64), gy.round().to(torch.int64)
    ax, ay = gx.abs(), gy.abs()
    magnitude = ax + ay
    padded = F.pad(magnitude, (1, 1, 1, 1))  # zeros outside the image
    h, w = magnitude.shape[-2:]

    def neighbour(dy: int, dx: int) -> Tensor:
        return padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    tg22x = ax * TG22
    y = ay << CANNY_SHIFT
    horizontal = y < tg22x
    vertical = ~horizontal & (y > tg22x + (ax << (CANNY_SHIFT + 1)))
    diagonal = ~horizontal & ~vertical
    s = torch.where((gx < 0) != (gy < 0), -1, 1)  # OpenCV: (xs ^ ys) < 0 ? -1 : 1
    m = magnitude
    keep_h = (m > neighbour(0, -1)) & (m >= neighbour(0, 1))
    keep_v = (m > neighbour(-1, 0)) & (m >= neighbour(1, 0))
    # s = 1: (i-1, j-1) and (i+1, j+1); s = -1: (i-1, j+1) and (i+1, j-1)
    keep_d = torch.where(
        s > 0,
        (m > neighbour(-1, -1)) & (m > neighbour(1, 1)),
        (m > neighbour(-1, 1)) & (m > neighbour(1, -1)),
    )
    maximum = (horizontal & keep_h) | (vertical & keep_v) | (diagonal & keep_d)
    candidate = maximum & (m > low_level)
    edges = candidate & (m > high_level)
    return hysteresis(edges, candidate)


def hysteresis(strong: Tensor, candidate: Tensor) -> Tensor:
    """Grow bool N×H×W `strong` through 8-connected `candidate` pixels until nothing changes."""
    edges = strong.clone()
    weak = candidate & ~strong
    if not bool(weak.any()):
        return edges
    while True:
        grown = F.max_pool2d(edges[:, None].float(), 3, stride=1, padding=1)[:, 0] > 0
        grown &= weak
        grown |= edges
        if torch.equal(grown, edges):
            return edges
        edges = grown
