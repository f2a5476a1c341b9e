"""The denominators of g that SiPP's and PFP's kernels share: |z| for both weight signs.

For a layer with weight W (F filters x K entries) and nonnegative input patches a (n x K x P),
z+_f = sum_k W+_fk a_k and z-_f = sum_k W-_fk a_k per patch; g_fk = max(W+_fk a_k / z+_f,
W-_fk a_k / z-_f), taken as 0 where the denominator is ~0 (sensitivity.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DENOMINATOR_EPS = 1e-12
"""|z| at or below this counts as a zero denominator (g is taken as 0 there)."""


def layer_matmul(left: Tensor, right: Tensor, fold: bool) -> Tensor:
    """left (M x K) @ right (n x K x P) as n x M x P. Folded into one GEMM over n * P columns
    where a per-sample product would re-read a large ``left`` for a few columns (P of 1 to 4
    in the deep layers of a VGG at 8 x 8); summation order, hence the last ulp, may differ."""
    rows, inner = left.shape
    count, _inner, columns = right.shape
    if not fold or rows * inner <= 64 * columns * (rows + inner):
        return torch.matmul(left, right)
    product = left @ right.transpose(0, 1).reshape(inner, count * columns)
    return product.view(rows, count, columns).transpose(0, 1).contiguous()


Denominators = tuple[Tensor, Tensor]
"""[|W+|; |W-|] (2F x K) and |1/z| for both signs (n x 2F x P), 0 where |z| is ~0."""


def reciprocal_denominators(patches: Tensor, weight: Tensor, fold: bool = False) -> Denominators:
    """The denominators from unfolded ``patches`` and a flat ``weight`` (F x K), z by one matmul:
    what the exactness tests and plain arrays use."""
    stacked = _signed_halves(weight)
    return stacked.abs_(), _reciprocal_magnitude(layer_matmul(stacked, patches, fold))


def layer_denominators(module: nn.Module, inputs: Tensor) -> Denominators:
    """The denominators of a Conv2d or Linear ``module`` on nonnegative ``inputs`` (its input
    batch), z by the layer's own operation with the signed halves of its weight as 2F filters:
    the values of ``reciprocal_denominators`` on the layer's patches, up to the summation
    order, at the cost of one convolution instead of an unfold and a matmul."""
    stacked = _signed_halves(module.weight.detach())
    if isinstance(module, nn.Conv2d):
        z = module._conv_forward(inputs, stacked, None).flatten(2)  # n x 2F x P
    else:
        rows = inputs.reshape(inputs.shape[0], -1, inputs.shape[-1])  # n x P x K
        z = F.linear(rows, stacked).transpose(1, 2)
    return stacked.abs_().reshape(stacked.shape[0], -1), _reciprocal_magnitude(z)


def _signed_halves(weight: Tensor) -> Tensor:
    """[W+; W-]: the weight's positive and negative parts stacked as 2F filters."""
    return torch.cat([weight.clamp(min=0), weight.clamp(max=0)])


def _reciprocal_magnitude(z: Tensor) -> Tensor:
    """|1/z| = 1/|z|, 0 where |z| is ~0 (in place on ``z``)."""
    magnitude = z.abs_()
    small = ~(magnitude > DENOMINATOR_EPS)
    return magnitude.reciprocal_().masked_fill_(small, 0.0)
