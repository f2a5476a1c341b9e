"""Digital corruptions: contrast, saturate, pixelate, JPEG, elastic transform."""

from __future__ import annotations

import functools
import io
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from robustprune.data.shifts import ops
from robustprune.data.shifts.registry import CorruptionContext, register_corruption


@register_corruption("contrast", "digital", (0.75, 0.5, 0.4, 0.3, 0.15))
def contrast(x: Tensor, factor: float, context: CorruptionContext) -> Tensor:
    """(x − μ)·factor + μ with μ the per-image, per-channel mean."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    return (x - mean) * factor + mean


@register_corruption(
    "saturate", "digital", ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)), channels=(3,)
)
def saturate(x: Tensor, parameter: tuple[float, float], context: CorruptionContext) -> Tensor:
    """HSV saturation·a + b (clipped to [0, 1]); needs RGB, gray images have no hue."""
    scale, offset = parameter
    value, low = x.amax(dim=1, keepdim=True), x.amin(dim=1, keepdim=True)
    delta = value - low
    colored = delta > 0
    # S = delta / V; S' = clamp(S·a + b); hsv2rgb(H, S', V) = V − (S'/S)·(V − x) (hue kept).
    saturation = torch.where(colored, delta / value, 0.0)  # V = 0 implies delta = 0
    new = saturation.mul_(scale).add_(offset).clamp_(0, 1)
    out = value - (value - x) * (new * value / torch.where(colored, delta, 1.0))
    # gray pixels: skimage's hue 0 (red) -> (V, V·(1 − S'), V·(1 − S'))
    red = torch.cat((value, value * (1 - new), value * (1 - new)), dim=1)
    return torch.where(colored, out, red)


@functools.lru_cache(maxsize=128)
def pil_box_matrix(in_size: int, out_size: int) -> Tensor:
    """PIL's BOX resampling as an out×in float64 matrix: output i averages the input pixels whose
    centres fall in its box ((i+½)·scale ± scale/2, scale = in/out, at least 1 pixel wide)."""
    scale = in_size / out_size
    width = max(scale, 1.0)
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64)
    for i in range(out_size):
        centre = (i + 0.5) * scale
        low = max(int(centre - 0.5 * width + 0.5), 0)
        high = min(int(centre + 0.5 * width + 0.5), in_size)
        for j in range(low, high):
            t = (j - centre + 0.5) / width
            if -0.5 < t <= 0.5:
                matrix[i, j] = 1.0
        matrix[i] /= matrix[i].sum().clamp_min(1e-12)
    return matrix


PIL_PRECISION_BITS = 22  # Pillow's fixed-point coefficients for 8-bit images: 32 - 8 - 2 bits


@functools.lru_cache(maxsize=128)
def pil_box_fixed_matrix(in_size: int, out_size: int) -> Tensor:
    """`pil_box_matrix` as Pillow's integer coefficients (float64 holding integers):
    int(0.5 + coefficient·2^22) (normalize_coeffs_8bpc)."""
    return torch.floor(pil_box_matrix(in_size, out_size) * 2**PIL_PRECISION_BITS + 0.5)


def pil_box_resize_8bit(levels: Tensor, size: tuple[int, int]) -> Tensor:
    """Pillow's BOX resize of 8-bit images (N×C×H×W float64 holding 0..255) to `size` (H, W):
    the horizontal pass, rounded to 8 bits, then the vertical pass, rounded — bit-exact."""
    half, one = 2.0 ** (PIL_PRECISION_BITS - 1), 2.0**PIL_PRECISION_BITS

    def rounded(total: Tensor) -> Tensor:  # clip8: (sum + 2^21) >> 22, clipped to 0..255
        return torch.floor((total + half) / one).clamp_(0, 255)

    h, w = levels.shape[-2:]
    if w != size[1]:
        cols = pil_box_fixed_matrix(w, size[1]).to(levels.device)
        levels = rounded(torch.matmul(levels, cols.T))
    if h != size[0]:
        rows = pil_box_fixed_matrix(h, size[0]).to(levels.device)
        levels = rounded(torch.matmul(rows, levels))
    return levels


@register_corruption("pixelate", "digital", (0.95, 0.9, 0.85, 0.75, 0.65))
def pixelate(x: Tensor, factor: float, context: CorruptionContext) -> Tensor:
    """BOX-downsample to int(side·factor) px and BOX-upsample back (relative, any size), on 8-bit
    levels exactly as Pillow does it (the input is first rounded to 8 bits, as the reference's
    PIL image is)."""
    h, w = x.shape[-2:]
    levels = torch.floor(x.double().clamp(0, 1) * 255 + 0.5)
    small = pil_box_resize_8bit(levels, (max(1, int(h * factor)), max(1, int(w * factor))))
    return (pil_box_resize_8bit(small, (h, w)) / 255).to(x.dtype)


@register_corruption("jpeg_compression", "digital", (80, 65, 58, 50, 40))
def jpeg_compression(x: Tensor, quality: int, context: CorruptionContext) -> Tensor:
    """JPEG encode/decode at `quality` (libjpeg, 4:2:0 chroma, islow DCT) on the uint8 batch with
    torchvision's list encoder/decoder on CPU: byte-identical to PIL's save/open (tested)."""
    pixels = (x.clamp(0, 1) * 255).round().to(torch.uint8).cpu()
    try:
        with warnings.catch_warnings():  # torchvision >= 0.29 flags its image codecs as deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import decode_jpeg, encode_jpeg

            out = torch.stack(
                decode_jpeg(encode_jpeg(list(pixels), quality=int(quality)), device="cpu")
            )
    except (ImportError, RuntimeError, TypeError):  # no codec: PIL, one image at a time
        out = _jpeg_pil(pixels, int(quality))
    return out.to(x.device).float() / 255


def _jpeg_pil(pixels: Tensor, quality: int) -> Tensor:
    """PIL's JPEG round trip of N×C×H×W uint8 `pixels`, one image at a time."""
    n, c, h, w = pixels.shape
    array = pixels.permute(0, 2, 3, 1).numpy()
    out = np.empty_like(array)
    mode = "RGB" if c == 3 else "L"
    for i in range(n):
        buffer = io.BytesIO()
        Image.fromarray(array[i] if c == 3 else array[i, :, :, 0], mode).save(
            buffer, format="JPEG", quality=quality
        )
        decoded = np.asarray(Image.open(buffer))
        out[i] = decoded if c == 3 else decoded[:, :, None]
    return torch.from_numpy(out).permute(0, 3, 1, 2)


ELASTIC = (  # (alpha, sigma, affine) in px at 32 px = 32 × (0,0,.08) (.05,.2,.07) (.08,.06,.06) (.1,.04,.05) (.1,.03,.03)
    (0.0, 0.0, 2.56),
    (1.6, 6.4, 2.24),
    (2.56, 1.92, 1.92),
    (3.2, 1.28, 1.6),
    (3.2, 0.96, 0.96),
)


def _pixel_grid(h: int, w: int, device: torch.device) -> tuple[Tensor, Tensor]:
    ys = torch.arange(h, dtype=torch.float32, device=device)[:, None].expand(h, w)
    xs = torch.arange(w, dtype=torch.float32, device=device)[None, :].expand(h, w)
    return ys, xs


@register_corruption("elastic_transform", "digital", ELASTIC)
def elastic_transform(
    x: Tensor, parameter: tuple[float, float, float], context: CorruptionContext
) -> Tensor:
    """Random affine (three anchor points moved by U(±affine), border reflect101), then a smooth
    displacement α·Gaussian_σ(U(−1, 1)) per axis resampled bilinearly with reflection."""
    alpha, sigma, affine = (context.pixels(p) for p in parameter)
    n, c, h, w = x.shape
    centre_x, centre_y, half = float(w // 2), float(h // 2), float(min(h, w) // 3)
    anchors = torch.tensor(
        [
            [centre_x + half, centre_y + half],
            [centre_x + half, centre_y - half],
            [centre_x - half, centre_y - half],
        ],
        dtype=torch.float64,
        device=x.device,
    )
    moved = anchors + context.random.uniform((n, 3, 2), -affine, affine).to(torch.float64)
    design = torch.cat((anchors, torch.ones(3, 1, dtype=torch.float64, device=x.device)), 1)
    forward = torch.linalg.solve(design, moved).transpose(1, 2)  # n×2×3: moved = forward·[p; 1]
    linear_inverse = torch.linalg.inv(forward[:, :, :2])
    inverse = torch.cat((linear_inverse, -(linear_inverse @ forward[:, :, 2:])), 2).float()
    ys, xs = _pixel_grid(h, w, x.device)
    points = torch.stack((xs, ys, torch.ones_like(xs)), -1).reshape(1, -1, 3)
    source = (points @ inverse.transpose(1, 2)).reshape(n, h, w, 2)
    scale = torch.tensor([2 / max(w - 1, 1), 2 / max(h - 1, 1)], device=x.device)
    grid = source * scale - 1
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
    fields = context.random.uniform((n, 2, h, w), -1, 1)
    if sigma > 0:
        fields = ops.gaussian_blur(fields, sigma, "reflect", truncate=3.0)
    dx, dy = (fields * alpha).unbind(1)
    grid = torch.stack(((2 * (xs + dx) + 1) / w - 1, (2 * (ys + dy) + 1) / h - 1), -1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
