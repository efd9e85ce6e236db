"""int8 linear layers for the decoder on the CPU, that keep a take the same
whatever shares its batch.

PyTorch's dynamic quantization picks one activation scale for the whole input
tensor, so a row's int8 values (and then the take's codes) depend on the other
rows of the batch. Here every row is first scaled by its own largest magnitude,
and two constant features (+1 and -1, against zero weights) pin the tensor's
range to [-1, 1]: the quantizer then picks the same scale for any batch, each
row is quantized on its own, and int8 accumulation is exact. The result is
per-row (per-token) dynamic quantization on PyTorch's own int8 kernels: a take
comes out bit-identical alone or batched, and slightly closer to float32 than
per-tensor scaling.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

_TINY = 1e-12


class RowInt8Linear(nn.Module):
    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        padded = nn.Linear(linear.in_features + 2, linear.out_features, bias=False)
        with torch.no_grad():
            padded.weight.zero_()
            padded.weight[:, : linear.in_features] = linear.weight.float()
        with warnings.catch_warnings():  # torch.ao's deprecation notices; the kernels are current
            warnings.simplefilter("ignore")
            self.quantized = torch.ao.quantization.quantize_dynamic(
                nn.Sequential(padded), {nn.Linear}, dtype=torch.qint8
            )[0]
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().float(), requires_grad=False)
        self._pinned: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.abs().amax(dim=-1, keepdim=True).clamp_min_(_TINY)
        y = self.quantized(torch.cat([x / scale, self._pins(x)], dim=-1))
        return y.mul_(scale) if self.bias is None else torch.addcmul(self.bias, y, scale)

    def _pins(self, x: torch.Tensor) -> torch.Tensor:
        """The +1 and -1 features for every row of `x`, made once per shape."""
        shape = (*x.shape[:-1], 2)
        if self._pinned is None or self._pinned.shape != shape or self._pinned.dtype != x.dtype:
            self._pinned = torch.tensor([1.0, -1.0], dtype=x.dtype, device=x.device).expand(shape).contiguous()
        return self._pinned


def quantize_linears(module: nn.Module) -> nn.Module:
    """Replace every nn.Linear under `module` with a RowInt8Linear, in place."""
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, RowInt8Linear(child))
        else:
            quantize_linears(child)
    return module
