"""One torch layer per IR module kind, built as the reference implementations build them."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from nasdsl.dsl import modules as M
from nasdsl.errors import NasError


class Zero(nn.Module):
    """DARTS's Zero: zeros shaped like the (strided) input, or with `channels` channels."""

    def __init__(self, stride: int, channels: int | None = None):
        super().__init__()
        self.stride, self.channels = stride, channels

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        if self.channels is None:
            return x.mul(0.0)
        return x.new_zeros(x.shape[0], self.channels, *x.shape[2:])


class Noise(nn.Module):
    """Gaussian noise shaped like the strided input: in place of it (R-DARTS's NoiseOp), or
    added to it in training only (`additive`)."""

    def __init__(self, std: float, mean: float, additive: bool, stride: int):
        super().__init__()
        self.std, self.mean, self.additive, self.stride = std, mean, additive, stride

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        if self.additive and not self.training:
            return x
        noise = torch.randn_like(x) * self.std + self.mean
        return x + noise if self.additive else noise


class StandardizedConv2d(nn.Conv2d):
    """A conv whose kernel is normalized before use: (K - mean K) / std K (seed 000 Eq. 28,
    kernel normalization), so the scale and offset of K carry no information that the
    architecture weights could trade against."""

    def forward(self, x):
        return self._conv_forward(x, standardized(self.weight), self.bias)


def standardized(weight: torch.Tensor) -> torch.Tensor:
    return (weight - weight.mean()) / (weight.std() + 1e-5)


def kernel_of(conv: nn.Conv2d) -> torch.Tensor:
    """The kernel a conv layer really applies (standardized where kernel normalization is on)."""
    return standardized(conv.weight) if isinstance(conv, StandardizedConv2d) else conv.weight


class FactorizedReduce(nn.Module):
    """ReLU, two 1x1 convs of stride 2 on the input and on the input shifted by one pixel,
    concatenated, BN (DARTS / NAS-Bench-201 reference code).

    The shifted input is a view of the ReLU's output, as in DARTS's code, so the second conv
    saves no copy for backward. Only an odd size is padded by a zero row and column (as
    NAS-Bench-201 pads), so that both halves have ceil(size / 2) pixels a side; on even sizes
    the padded row would never be read by the stride-2 conv."""

    def __init__(self, c_in: int, c_out: int, affine: bool, track_running_stats: bool):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.convs = nn.ModuleList(nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
                                   for _ in range(2))
        self.bn = nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats)

    def forward(self, x):
        x = self.relu(x)
        shifted = x[:, :, 1:, 1:]
        if x.shape[2] % 2 or x.shape[3] % 2:
            shifted = F.pad(shifted, (0, 1, 0, 1))
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))


def relu_conv_bn(c_in, c_out, kernel, stride, affine, track_running_stats) -> nn.Sequential:
    return nn.Sequential(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out, affine=affine,
                                        track_running_stats=track_running_stats))


class ResNetBlock(nn.Module):
    """NAS-Bench-201's ResNetBasicblock: two ReLU-Conv3x3-BN; the shortcut is an average
    pool and 1x1 conv when striding, a ReLU-Conv1x1-BN when only channels change."""

    def __init__(self, c_in, c_out, stride, affine, track_running_stats):
        super().__init__()
        self.conv_a = relu_conv_bn(c_in, c_out, 3, stride, affine, track_running_stats)
        self.conv_b = relu_conv_bn(c_out, c_out, 3, 1, affine, track_running_stats)
        if stride == 2:
            # ceil_mode: on odd sizes the shortcut matches conv_a's ceil(size / 2) (the
            # reference code, used on even sizes only, fails there); identical on even sizes.
            self.downsample = nn.Sequential(nn.AvgPool2d(2, 2, 0, ceil_mode=True),
                                            nn.Conv2d(c_in, c_out, 1, bias=False))
        elif c_in != c_out:
            self.downsample = relu_conv_bn(c_in, c_out, 1, 1, affine, track_running_stats)
        else:
            self.downsample = None

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """The channels in `groups` groups, interleaved (ShuffleNet's shuffle)."""
    batch, channels, height, width = x.shape
    return x.view(batch, groups, channels // groups, height, width).transpose(1, 2) \
        .reshape(batch, channels, height, width)


class ChannelShuffle(nn.Module):
    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)


class EvenPool(nn.Module):
    """A pool of even kernel k: the input padded k/2 - 1 before and k/2 after on each axis,
    then pooled unpadded (`modules.Pool`). Without count_include_pad an average divides by the
    input positions its window covers."""

    def __init__(self, module: M.Pool):
        super().__init__()
        self.kernel, self.stride = module.kernel, module.stride
        before, after = module.padding
        self.pad = (before, after, before, after)
        self.maximum = isinstance(module, M.MaxPool)
        self.count_include_pad = getattr(module, "count_include_pad", True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.maximum:
            return F.max_pool2d(F.pad(x, self.pad, value=float("-inf")), self.kernel, self.stride)
        out = F.avg_pool2d(F.pad(x, self.pad), self.kernel, self.stride)
        if self.count_include_pad:
            return out
        covered = F.avg_pool2d(F.pad(x.new_ones(1, 1, *x.shape[2:]), self.pad), self.kernel,
                               self.stride)
        return out / covered


def _pool(module: M.Pool, normalize: bool) -> nn.Module:
    if module.kernel % 2 == 0:
        return EvenPool(module)
    if isinstance(module, M.MaxPool):
        return nn.MaxPool2d(module.kernel, module.stride, module.kernel // 2)
    return nn.AvgPool2d(module.kernel, module.stride, module.kernel // 2,
                        count_include_pad=module.count_include_pad)


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class Branches(nn.Module):
    """Branches from one input, summed, multiplied (vectors scaling the channels of feature
    maps) or concatenated along channels."""

    def __init__(self, module: M.Branches, normalize_kernels: bool):
        super().__init__()
        self.combine = module.combine
        self.branches = nn.ModuleList(
            nn.Sequential(*(build_layer(m, normalize_kernels) for m in branch))
            for branch in module.branches)

    def forward(self, x):
        outputs = [branch(x) for branch in self.branches]
        if self.combine == "concat":
            return torch.cat(outputs, dim=1)
        total = outputs[0]
        for out in outputs[1:]:
            total = total + out if self.combine == "sum" else _times(total, out)
        return total


def _times(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The elementwise product; vectors (batch, channels) times feature maps scale each
    channel, as (batch, channels, 1, 1)."""
    if a.dim() != b.dim():
        a, b = (t[:, :, None, None] if t.dim() == 2 else t for t in (a, b))
    return a * b


def build_layer(module: M.Module, normalize_kernels: bool = False) -> nn.Module:
    """The torch layer of one IR module; `normalize_kernels` makes convs standardize their
    kernels (for the convs of searchable edges when kernel normalization is on)."""
    builder = LAYERS.get(type(module))
    if builder is None:
        raise NasError(f"module kind '{module.kind}' has no torch layer",
                       hint="register one: nasdsl.backends.torch.layers.register_layer(kind, "
                            "build), build(module, normalize_kernels) giving an nn.Module")
    return builder(module, normalize_kernels)


def register_layer(kind: type[M.Module], build: Callable[[M.Module, bool], nn.Module]) -> None:
    """Make `build(module, normalize_kernels)` the torch layer of a module kind (one defined
    outside nasdsl: see the README)."""
    LAYERS[kind] = build


def _conv(m: M.Conv, normalize: bool) -> nn.Module:
    cls = StandardizedConv2d if normalize else nn.Conv2d
    padding = tuple(m.dilation * (side // 2) for side in m.kernel_size)
    return cls(m.c_in, m.c_out, m.kernel_size, m.stride, padding=padding, dilation=m.dilation,
               groups=m.groups, bias=m.bias)


LAYERS: dict[type[M.Module], Callable[[M.Module, bool], nn.Module]] = {
    M.ReLU: lambda m, n: nn.ReLU(inplace=False),
    M.ReLU6: lambda m, n: nn.ReLU6(inplace=False),
    M.HardSwish: lambda m, n: nn.Hardswish(inplace=False),
    M.SiLU: lambda m, n: nn.SiLU(inplace=False),
    M.Sigmoid: lambda m, n: nn.Sigmoid(),
    M.HardSigmoid: lambda m, n: nn.Hardsigmoid(inplace=False),
    M.GELU: lambda m, n: nn.GELU(),
    M.Dropout: lambda m, n: nn.Dropout(m.p),
    M.Noise: lambda m, n: Noise(m.std, m.mean, m.additive, m.stride),
    M.Identity: lambda m, n: nn.Identity(),
    M.Zero: lambda m, n: Zero(m.stride, m.c_out),
    M.Conv: _conv,
    M.BatchNorm: lambda m, n: nn.BatchNorm2d(m.channels, affine=m.affine,
                                             track_running_stats=m.track_running_stats),
    M.AvgPool: _pool,
    M.MaxPool: _pool,
    M.FactorizedReduce: lambda m, n: FactorizedReduce(m.c_in, m.c_out, m.affine,
                                                      m.track_running_stats),
    M.ResNetBlock: lambda m, n: ResNetBlock(m.c_in, m.c_out, m.stride, m.affine,
                                            m.track_running_stats),
    M.ChannelShuffle: lambda m, n: ChannelShuffle(m.groups),
    M.GlobalAvgPool: lambda m, n: GlobalAvgPool(),
    M.Linear: lambda m, n: nn.Linear(m.c_in, m.c_out),
    M.Branches: Branches,
}
