"""The basic modules of the IR: interned, immutable, each kind declaring its facts.

A module is a concrete computation: its channels are numbers, not expressions. Modules are
interned (building one with the same attributes twice gives the same object), so "the same
module" is a pointer comparison, which is what the simplifier asks most often.

Facts are what the simplification passes and the checker reason from, never names:
  has_params           the module owns trainable weights
  linear               f(a x + b y) = a f(x) + b f(y) in training mode
  batch_dependent      the output for one sample depends on the batch (BN in training mode)
  keeps_running_stats  the module updates buffers in training mode (BN running mean / var)
  kernel_expressible   the module is exactly a convolution with some kernel, of side
                       `extent`
  maps_zero_to_zero    f(0) = 0, in training and in eval mode: what follows a `zero` keeps
                       the chain zero (a bias or BN's beta does not)
  stride_capable       the module can take the stride of the place an op is put at
  trivial              its output is zeros or its input (zero, identity): nothing to
                       compute, so nothing to share or recompute
  stateless            no weights and no running statistics (has_params and
                       keeps_running_stats both false): one computation serves every user
  accepts, produces    the forms of tensor it takes and gives: feature maps (batch,
                       channels, height, width) or vectors (batch, channels)
  elementwise          a parameter-free module computing each output element from the
                       input element at the same place (activations): costed alike
  saves                what torch keeps for backward from an elementwise module: its
                       "input", its "output", a "mask" of its size, or "nothing"
  random               it draws random numbers when it runs: one computation cannot serve
                       several candidates (they would share one draw where the naive
                       supernet draws for each), so it is never shared
  parameter_count      how many weights its layer holds (the reference layers' count)
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import ClassVar

import attrs

from nasdsl.dsl.syntax import COMBINE_SIGNS
from nasdsl.errors import NasError
from nasdsl.plugins import load_entry_points

REQUIRED = object()  # marks a keyword attribute without a default

# The two forms a tensor takes between modules.
MAPS, VECTORS = "feature maps", "vectors"


class _Interned(type):
    """Returns the one existing instance with equal attributes instead of a new one."""

    def __call__(cls, *args, **kwargs):
        fresh = super().__call__(*args, **kwargs)
        key = (cls, attrs.astuple(fresh, recurse=False))
        return cls._instances.setdefault(key, fresh)


class Module(metaclass=_Interned):
    """Base of every module kind. Subclasses are frozen attrs classes."""

    __slots__ = ("__weakref__",)
    _instances: ClassVar[weakref.WeakValueDictionary] = weakref.WeakValueDictionary()

    kind: ClassVar[str]
    attributes: ClassVar[dict[str, Attr]] = {}
    stride_capable: ClassVar[bool] = False
    linear: ClassVar[bool] = False
    batch_dependent: ClassVar[bool] = False
    maps_zero_to_zero: ClassVar[bool] = False
    trivial: ClassVar[bool] = False
    accepts: ClassVar[tuple[str, ...]] = (MAPS,)
    produces: ClassVar[str | None] = None  # None: the form it was given
    elementwise: ClassVar[bool] = False
    saves: ClassVar[str] = "nothing"
    random: ClassVar[bool] = False

    @property
    def has_params(self) -> bool:
        return False

    @property
    def parameter_count(self) -> int:
        return 0

    @property
    def keeps_running_stats(self) -> bool:
        return False

    @property
    def stateless(self) -> bool:
        return not self.has_params and not self.keeps_running_stats

    @property
    def kernel_expressible(self) -> bool:
        return False

    @property
    def stride(self) -> int:
        return 1

    @property
    def strides(self) -> KernelSize:
        """The stride on each axis, (height, width): a conv may stride them apart (1x2)."""
        return KernelSize(self.stride)

    @property
    def extent(self) -> int:
        """Side of the dense kernel of a kernel-expressible module (1: pointwise)."""
        return 1

    def out_channels(self, c_in: int) -> int:
        return c_in

    def out_size(self, size: int) -> int:
        """The side of its output maps from square maps of side `size` ('same' padding:
        ceil(size / stride)); a module striding its axes apart has no square output, and
        `out_shape` gives its output's sides."""
        return -(-size // self.stride)

    def out_shape(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) of its output maps from maps of (height, width)."""
        if self.strides.square:
            return self.out_size(height), self.out_size(width)
        along, across = self.strides
        return -(-height // along), -(-width // across)

    def __reduce__(self):  # unpickling goes through the constructor, so it stays interned
        return (type(self), attrs.astuple(self, recurse=False))

    def __str__(self) -> str:
        shown = [f"{f.name}={_show(getattr(self, f.name))}" for f in attrs.fields(type(self))
                 if getattr(self, f.name) != f.default]
        return self.kind + (f"({', '.join(shown)})" if shown else "")


def _show(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class KernelSize(tuple):
    """A (height, width) pair, written `1x7` in a .nas file: a kernel's size (`KernelSize(3)`
    is 3x3, `KernelSize(1, 7)` one row of 7) or a conv's stride on each axis (`1x2` strides
    the width only)."""

    def __new__(cls, height: int, width: int | None = None):
        if isinstance(height, KernelSize):
            return height
        return super().__new__(cls, (height, height if width is None else width))

    @property
    def square(self) -> bool:
        return self[0] == self[1]

    def __str__(self) -> str:
        return "{}x{}".format(*self)


def shown_stride(strides: KernelSize) -> str:
    """A stride as a message says it: `2` where both axes take it, else `1x2`."""
    return str(strides[0]) if strides.square else str(strides)


def strides_apart(modules) -> Module | None:
    """The first module of a chain (inside its groups too) that strides its axes apart, or
    None."""
    for module in modules:
        if not module.strides.square:
            return module
        if isinstance(module, Branches):
            found = strides_apart([inner for branch in module.branches for inner in branch])
            if found is not None:
                return found
    return None


def chain_out_size(modules, size: int) -> int:
    """The side of the maps a chain gives from square maps of side `size`, its modules
    perhaps striding the axes apart (1x2 then 2x1): the checker has seen to it that the
    chain's strides multiply alike on both axes, so its output is square."""
    height = width = size
    for module in modules:
        height, width = module.out_shape(height, width)
    assert height == width, "a chain striding its axes apart reached a stage's output"
    return height


@attrs.frozen
class Attr:
    """A keyword attribute a user may write: its type, default and validity check.

    `default` is a value, REQUIRED, or a function of the `Placement` (for channel counts,
    which depend on where the module is put). Inside cells while searching, a network's
    `search` settings replace defaults: those of the module's own kind, or of the kind the
    attribute `follows` (the BN inside factorized_reduce follows `search bn(...)`).
    """

    type: type
    default: object = REQUIRED
    check: Callable[[object], str | None] | None = None
    follows: str | None = None


@attrs.frozen
class Placement:
    """What a module being built knows of where it is: the channels that reach it and the
    channels its op must produce."""

    channels: int
    target: int


def _at_least_one(value: int) -> str | None:
    return None if value >= 1 else "must be at least 1"


def _odd_kernel(value: KernelSize) -> str | None:
    if min(value) < 1:
        return "must be at least 1"
    return None if all(side % 2 for side in value) else \
        "must be odd, so that 'same' padding is symmetric"


def _pool_kernel(value: int) -> str | None:
    return None if value >= 1 else "must be at least 1"


def _probability(value: float) -> str | None:
    return None if 0.0 <= value < 1.0 else "must be in [0, 1)"


def _non_negative(value: float) -> str | None:
    return None if value >= 0.0 else "must be at least 0"


def _stride(value: int) -> str | None:
    return None if value in (1, 2) else "must be 1 or 2"


def _axis_strides(value: KernelSize) -> str | None:
    return None if set(value) <= {1, 2} else "must be 1 or 2 on each axis"


_AFFINE = Attr(bool, True, follows="bn")
_TRACK = Attr(bool, True, follows="bn")
_OUT = Attr(int, lambda p: p.target, _at_least_one)


# Every module kind by the name a .nas file calls it, the shipped ones and those that
# installed distributions add (`load_plugins`).
KINDS: dict[str, type[Module]] = {}


def module_kind(name: str):
    """Class decorator: a frozen, slotted, interned module kind named `name` in .nas text,
    registered in KINDS. A subclass of `Module` declares its attributes (`attributes`), its
    facts and `build(values, placement)`; its torch layer, its cost and (where it is kernel
    expressible) its kernel are registered with the backend and the cost model."""
    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, Module)):
            raise TypeError(f"module kind '{name}' must subclass nasdsl.dsl.modules.Module")
        # The same class imported again (a reload) replaces itself; another is refused.
        same = lambda kind: (kind.__module__, kind.__qualname__)  # noqa: E731
        if name in KINDS and same(KINDS[name]) != same(cls):
            raise ValueError(f"there is a module kind '{name}' already "
                             f"({KINDS[name].__module__}.{KINDS[name].__qualname__})")
        cls.kind = name
        KINDS[name] = attrs.frozen(eq=False, weakref_slot=False)(cls)
        return KINDS[name]
    return decorate


class Activation(Module):
    """An elementwise nonlinearity without attributes, on feature maps or vectors."""

    elementwise = True
    accepts = (MAPS, VECTORS)

    @classmethod
    def build(cls, values: dict, placement: Placement) -> Activation:
        return cls()


def _activation(class_name: str, name: str, doc: str, saves: str, zero_to_zero: bool = True):
    """An attribute-free activation kind: what it computes, what torch keeps for its backward
    (its "input" or its "output") and whether it maps zero to zero."""
    cls = type(class_name, (Activation,), {"__doc__": doc, "__module__": __name__,
                                            "__qualname__": class_name, "saves": saves,
                                            "maps_zero_to_zero": zero_to_zero})
    return module_kind(name)(cls)


ReLU = _activation("ReLU", "relu", "max(x, 0).", "output")
ReLU6 = _activation("ReLU6", "relu6", "min(max(x, 0), 6) (MobileNetV2).", "input")
HardSwish = _activation("HardSwish", "hswish", "x * relu6(x + 3) / 6 (MobileNetV3).", "input")
SiLU = _activation("SiLU", "silu", "x * sigmoid(x), also called swish (EfficientNet).", "input")
Sigmoid = _activation("Sigmoid", "sigmoid", "1 / (1 + exp(-x)): 1/2 at zero, so a chain that "
                      "was zero is not zero after it.", "output", zero_to_zero=False)
HardSigmoid = _activation("HardSigmoid", "hsigmoid", "relu6(x + 3) / 6, the gate of "
                          "MobileNetV3's squeeze-and-excitation: 1/2 at zero.", "input",
                          zero_to_zero=False)
GELU = _activation("GELU", "gelu", "x * Phi(x), Phi the standard normal's distribution "
                   "function (exact, not tanh).", "input")


@module_kind("dropout")
class Dropout(Module):
    """Zeroes each element with probability p in training and scales the rest by 1/(1-p);
    the identity in eval."""

    p: float
    attributes = {"p": Attr(float, REQUIRED, _probability)}
    elementwise = True
    accepts = (MAPS, VECTORS)
    maps_zero_to_zero = True
    saves = "mask"
    random = True

    @classmethod
    def build(cls, values, placement):
        return cls(values["p"])


@module_kind("noise")
class Noise(Module):
    """Gaussian noise N(mean, std^2) shaped like the (strided) input. As R-DARTS's `noise` op
    (space S4, reference code `NoiseOp`) it replaces its input, in training and in eval;
    with `additive=true` it is added to the input in training and is the identity in eval."""

    std: float = 1.0
    mean: float = 0.0
    additive: bool = False
    stride: int = 1
    attributes = {"std": Attr(float, 1.0, _non_negative), "mean": Attr(float, 0.0),
                  "additive": Attr(bool, False), "stride": Attr(int, 1, _stride)}
    stride_capable = True
    random = True

    @classmethod
    def build(cls, values, placement):
        return cls(values["std"], values["mean"], values["additive"], values["stride"])


@module_kind("identity")
class Identity(Module):
    linear = True
    maps_zero_to_zero = True
    trivial = True
    accepts = (MAPS, VECTORS)

    @property
    def kernel_expressible(self) -> bool:
        return True

    @classmethod
    def build(cls, values, placement):
        return cls()


@module_kind("zero")
class Zero(Module):
    """The `none` op: zeros of the input's shape (strided like the place it is put at), or
    with `out` channels (`c_out`, None where they are the input's): `zero(out=out)` leaves
    out an edge that changes the channels."""

    stride: int = 1
    c_out: int | None = None
    attributes = {"stride": Attr(int, 1, _stride), "out": Attr(int, None, _at_least_one)}
    stride_capable = True
    linear = True
    maps_zero_to_zero = True
    trivial = True

    @property
    def kernel_expressible(self) -> bool:
        return True

    def out_channels(self, c_in: int) -> int:
        return c_in if self.c_out is None else self.c_out

    @classmethod
    def build(cls, values, placement):
        c_out = values["out"]
        return cls(values["stride"], None if c_out == placement.channels else c_out)


@module_kind("conv")
class Conv(Module):
    """A 2-d convolution with 'same' padding (dilation * (kernel - 1) / 2 on each axis), with
    a bias only where asked (NAS-Bench-201's search convs have one: bias = not affine). A
    square kernel is a number, another a `KernelSize` (1x7); so is a stride, which may
    differ between the axes (`stride=1x2`: NASNet's conv 1x7 then 7x1 at stride 2 strides
    each along its own axis)."""

    c_in: int
    c_out: int
    kernel: int | KernelSize
    stride: int | KernelSize = 1
    dilation: int = 1
    groups: int = 1
    bias: bool = False
    attributes = {
        "kernel": Attr(KernelSize, REQUIRED, _odd_kernel),
        "stride": Attr(KernelSize, 1, _axis_strides),
        "dilation": Attr(int, 1, _at_least_one),
        "groups": Attr(int, 1, _at_least_one),
        "depthwise": Attr(bool, False),
        "out": Attr(int, None, _at_least_one),
        "bias": Attr(bool, False),
    }
    stride_capable = True

    @property
    def linear(self) -> bool:  # type: ignore[override] - a bias makes it affine
        return not self.bias

    @property
    def maps_zero_to_zero(self) -> bool:  # type: ignore[override]
        return not self.bias

    @property
    def has_params(self) -> bool:
        return True

    @property
    def kernel_expressible(self) -> bool:
        return True

    @property
    def kernel_size(self) -> KernelSize:
        return KernelSize(self.kernel)

    @property
    def extent(self) -> int:
        """Side of the square dense kernel this convolution equals (dilation inserts zeros;
        a non-square kernel is padded to its longer side)."""
        return self.dilation * (max(self.kernel_size) - 1) + 1

    @property
    def depthwise(self) -> bool:
        return self.groups == self.c_in == self.c_out and self.c_in > 1

    @property
    def parameter_count(self) -> int:
        height, width = self.kernel_size
        return self.c_out * (self.c_in // self.groups) * height * width + self.c_out * self.bias

    def out_channels(self, c_in: int) -> int:
        return self.c_out

    @classmethod
    def build(cls, values, placement):
        c_in = placement.channels
        if values["depthwise"]:
            if values["groups"] != 1:
                raise AttributeProblem("groups", "give either depthwise=true or groups, not both")
            groups, default_out = c_in, c_in
        else:
            groups, default_out = values["groups"], placement.target
        c_out = default_out if values["out"] is None else values["out"]
        if c_in % groups or c_out % groups:
            raise AttributeProblem("groups", f"{groups} groups do not divide {c_in} input and "
                                   f"{c_out} output channels")
        return cls(c_in, c_out, _number_if_square(values["kernel"]),
                   _number_if_square(values["stride"]), values["dilation"], groups,
                   values["bias"])


def _number_if_square(size: int | KernelSize) -> int | KernelSize:
    """A pair of equal sides as the number (so that kernel=3 and kernel=3x3 intern alike)."""
    size = KernelSize(size)
    return size[0] if size.square else size


@module_kind("bn")
class BatchNorm(Module):
    channels: int
    affine: bool = True
    track_running_stats: bool = True
    attributes = {"affine": _AFFINE, "track_running_stats": _TRACK}
    batch_dependent = True

    @property
    def has_params(self) -> bool:
        return self.affine

    @property
    def parameter_count(self) -> int:
        return 2 * self.channels * self.affine

    @property
    def maps_zero_to_zero(self) -> bool:  # type: ignore[override]
        """Zeros have batch mean 0, and a BN that only ever sees zeros keeps a running mean
        of 0: it outputs 0 in both modes, plus beta where it is affine."""
        return not self.affine

    @property
    def keeps_running_stats(self) -> bool:
        return self.track_running_stats

    @classmethod
    def build(cls, values, placement):
        return cls(placement.channels, values["affine"], values["track_running_stats"])


class Pool(Module):
    """A pooling window of `kernel` positions a side, padded so that the output has
    ceil(size / stride) positions a side: an odd kernel reaches kernel // 2 before and after
    the centre; an even one k/2 - 1 before and k/2 after (the odd window k + 1 with its first
    row and column left out; a kernel of 2 is the window of the position and the next)."""

    kernel: int
    stride: int = 1

    @property
    def padding(self) -> tuple[int, int]:
        """Positions padded before and after, on each axis."""
        half = self.kernel // 2
        return (half, half) if self.kernel % 2 else (half - 1, half)


@module_kind("avg_pool")
class AvgPool(Pool):
    """Average pooling (see `Pool` for its window). With count_include_pad it is exactly a
    convolution; without, border outputs divide by fewer elements and it is not."""

    kernel: int
    stride: int = 1
    count_include_pad: bool = True
    attributes = {"kernel": Attr(int, REQUIRED, _pool_kernel), "stride": Attr(int, 1, _stride),
                  "count_include_pad": Attr(bool, True)}
    stride_capable = True
    linear = True
    maps_zero_to_zero = True

    @property
    def kernel_expressible(self) -> bool:
        return self.count_include_pad

    @property
    def extent(self) -> int:
        return self.kernel + 1 - self.kernel % 2  # an even window is the odd one a side wider

    @classmethod
    def build(cls, values, placement):
        return cls(values["kernel"], values["stride"], values["count_include_pad"])


@module_kind("max_pool")
class MaxPool(Pool):
    """Max pooling (see `Pool` for its window); padding never wins."""

    kernel: int
    stride: int = 1
    attributes = {"kernel": Attr(int, REQUIRED, _pool_kernel), "stride": Attr(int, 1, _stride)}
    stride_capable = True
    maps_zero_to_zero = True

    @classmethod
    def build(cls, values, placement):
        return cls(values["kernel"], values["stride"])


@module_kind("factorized_reduce")
class FactorizedReduce(Module):
    """ReLU, two offset 1x1 convolutions of stride 2 concatenated, BN (DARTS reference)."""

    c_in: int
    c_out: int
    affine: bool = True
    track_running_stats: bool = True
    attributes = {"out": _OUT, "affine": _AFFINE, "track_running_stats": _TRACK}
    batch_dependent = True

    @property
    def stride(self) -> int:
        return 2

    @property
    def has_params(self) -> bool:
        return True

    @property
    def keeps_running_stats(self) -> bool:
        return self.track_running_stats

    @property
    def maps_zero_to_zero(self) -> bool:  # type: ignore[override] - its convs have no bias
        return not self.affine

    @property
    def parameter_count(self) -> int:
        return 2 * self.c_in * (self.c_out // 2) + 2 * self.c_out * self.affine

    def out_channels(self, c_in: int) -> int:
        return self.c_out

    @classmethod
    def build(cls, values, placement):
        if values["out"] % 2:
            raise AttributeProblem("out", "out must be even (the two halves are concatenated), "
                                   f"not {values['out']}")
        return cls(placement.channels, values["out"], values["affine"],
                   values["track_running_stats"])


@module_kind("resnet_block")
class ResNetBlock(Module):
    """The NAS-Bench-201 ResNet basic block: two ReLU-Conv3x3-BN, shortcut by average pool
    and 1x1 conv when it strides or changes channels."""

    c_in: int
    c_out: int
    stride: int = 1
    affine: bool = True
    track_running_stats: bool = True
    attributes = {"out": _OUT, "stride": Attr(int, 1, _stride), "affine": _AFFINE,
                  "track_running_stats": _TRACK}
    stride_capable = True
    batch_dependent = True

    @property
    def has_params(self) -> bool:
        return True

    @property
    def keeps_running_stats(self) -> bool:
        return self.track_running_stats

    @property
    def maps_zero_to_zero(self) -> bool:  # type: ignore[override] - its convs have no bias
        return not self.affine

    @property
    def parameter_count(self) -> int:
        """Two 3x3 convs with their BNs, and the shortcut's 1x1 conv (with a BN where only
        the channels change)."""
        bn = 2 * self.c_out * self.affine
        body = self.c_in * self.c_out * 9 + self.c_out * self.c_out * 9 + 2 * bn
        if self.stride == 2:
            return body + self.c_in * self.c_out
        return body + (self.c_in * self.c_out + bn if self.c_in != self.c_out else 0)

    def out_channels(self, c_in: int) -> int:
        return self.c_out

    @classmethod
    def build(cls, values, placement):
        return cls(placement.channels, values["out"], values["stride"], values["affine"],
                   values["track_running_stats"])


@module_kind("channel_shuffle")
class ChannelShuffle(Module):
    """ShuffleNet's channel shuffle: the channels, seen as `groups` groups of equal size,
    interleaved (channel g * n + i moves to i * groups + g), so that a grouped conv after it
    mixes the groups. A permutation: linear, one 1x1 kernel."""

    channels: int
    groups: int
    attributes = {"groups": Attr(int, REQUIRED, _at_least_one)}
    linear = True
    maps_zero_to_zero = True

    @property
    def kernel_expressible(self) -> bool:
        return True

    @classmethod
    def build(cls, values, placement):
        if placement.channels % values["groups"]:
            raise AttributeProblem("groups", f"{values['groups']} groups do not divide "
                                   f"{placement.channels} channels")
        return cls(placement.channels, values["groups"])


@module_kind("global_avg_pool")
class GlobalAvgPool(Module):
    """The mean over height and width: feature maps in, vectors out."""

    linear = True
    maps_zero_to_zero = True
    produces = VECTORS

    def out_size(self, size: int) -> int:
        return 1

    @classmethod
    def build(cls, values, placement):
        return cls()


@module_kind("linear")
class Linear(Module):
    """A fully connected layer with bias, on vectors (after a global pooling)."""

    c_in: int
    c_out: int
    attributes = {"out": _OUT}
    accepts = (VECTORS,)

    @property
    def has_params(self) -> bool:
        return True

    @property
    def parameter_count(self) -> int:
        return self.c_in * self.c_out + self.c_out

    def out_channels(self, c_in: int) -> int:
        return self.c_out

    @classmethod
    def build(cls, values, placement):
        return cls(placement.channels, values["out"])


class Branches(Module):
    """Branches from one input, combined: summed, multiplied elementwise (a branch of vectors
    scales each channel of feature maps: squeeze-and-excitation), or concatenated along
    channels. Written as a group in a chain, `(identity + conv(kernel=3) -> bn)`; each branch
    is a chain of modules, and the facts of the whole follow from its branches'."""

    combine: str  # "sum", "product" or "concat"
    branches: tuple[tuple[Module, ...], ...]
    c_in: int
    c_out: int

    @property
    def _modules(self):
        return [module for branch in self.branches for module in branch]

    @property
    def linear(self) -> bool:  # type: ignore[override]
        return self.combine != "product" and all(m.linear for m in self._modules)

    @property
    def batch_dependent(self) -> bool:  # type: ignore[override]
        return any(m.batch_dependent for m in self._modules)

    @property
    def random(self) -> bool:  # type: ignore[override]
        return any(m.random for m in self._modules)

    @property
    def maps_zero_to_zero(self) -> bool:  # type: ignore[override]
        """A product is zero where one factor is; a sum or a concatenation where all are."""
        zeros = [_chain_maps_zero_to_zero(branch) for branch in self.branches]
        return any(zeros) if self.combine == "product" else all(zeros)

    @property
    def has_params(self) -> bool:
        return any(m.has_params for m in self._modules)

    @property
    def parameter_count(self) -> int:
        return sum(m.parameter_count for m in self._modules)

    @property
    def keeps_running_stats(self) -> bool:
        return any(m.keeps_running_stats for m in self._modules)

    @property
    def kernel_expressible(self) -> bool:
        """A sum of branches that are each one kernel (linear, kernel-expressible modules, at
        most one of them wider than 1x1, none striding before it) is one kernel, their sum:
        a residual `(identity + conv(kernel=3))` is a 3x3 conv (RepVGG)."""
        return self.combine == "sum" and all(one_kernel(branch) for branch in self.branches)

    @property
    def extent(self) -> int:
        return max((m.extent for m in self._modules), default=1)

    @property
    def stride(self) -> int | KernelSize:
        return _number_if_square(self.strides)

    @property
    def strides(self) -> KernelSize:
        along = across = 1
        for module in self.branches[0]:
            along, across = along * module.strides[0], across * module.strides[1]
        return KernelSize(along, across)

    def out_channels(self, c_in: int) -> int:
        return self.c_out

    def out_size(self, size: int) -> int:
        return chain_out_size(self.branches[0], size)

    def out_shape(self, height: int, width: int) -> tuple[int, int]:
        for module in self.branches[0]:
            height, width = module.out_shape(height, width)
        return height, width

    def __str__(self) -> str:
        sign = f" {COMBINE_SIGNS[self.combine]} "
        return "(" + sign.join(" -> ".join(map(str, b)) for b in self.branches) + ")"


Branches.kind = "branches"  # built from groups, not called by name: not in KINDS
Branches = attrs.frozen(eq=False, weakref_slot=False)(Branches)


def _chain_maps_zero_to_zero(modules) -> bool:
    return all(m.maps_zero_to_zero for m in modules) or is_zero_chain(modules)


def one_kernel(modules, bias_last: bool = False) -> bool:
    """Whether a chain is one convolution: kernel-expressible modules, linear (but for a bias
    on a last conv where `bias_last`), at most one wider than 1x1 and no stride before it (it
    would space the taps apart; with no wide one, no stride at all)."""
    if not all(m.kernel_expressible for m in modules):
        return False
    if not all(m.linear for m in modules[:-1]) or not (
            not modules or modules[-1].linear or (bias_last and isinstance(modules[-1], Conv))):
        return False
    spatial = [i for i, m in enumerate(modules) if m.extent > 1]
    before = modules[:spatial[0]] if spatial else modules
    return len(spatial) <= 1 and all(m.stride == 1 for m in before)


class AttributeProblem(Exception):
    """Raised by a kind's `build` when attribute values are inconsistent with each other or
    with the channels; the elaborator turns it into a located error."""

    def __init__(self, attribute: str, message: str):
        super().__init__(message)
        self.attribute = attribute
        self.message = message


def is_zero_chain(modules) -> bool:
    """Whether a chain of modules outputs zeros whatever its input: it has a `zero`, and every
    module after the last one maps zero to zero."""
    last = max((i for i, module in enumerate(modules) if isinstance(module, Zero)), default=None)
    return last is not None and all(module.maps_zero_to_zero for module in modules[last + 1:])


# Other names a .nas file may use for a kind.
ALIASES = {"swish": "silu"}
KINDS.update({alias: KINDS[name] for alias, name in ALIASES.items()})

ENTRY_POINTS = "nasdsl.modules"
# Entry points of module kinds that could not be registered, by entry-point name (the
# kind's name), with the reason: a .nas file that uses the name gets it as its error.
BROKEN_KINDS: dict[str, NasError] = {}
_plugins_loaded = False


def load_plugins() -> None:
    """Import, once, the module kinds installed distributions declare under the entry-point
    group `nasdsl.modules`: each names its kind's class, which `module_kind` registered."""
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        BROKEN_KINDS.update(load_entry_points(ENTRY_POINTS, "module kind", _check_plugin))


def _check_plugin(cls, where: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Module) and KINDS.get(cls.kind) is cls):
        raise NasError(f"{where} names {cls!r}, not a module kind",
                       hint="decorate a subclass of nasdsl.dsl.modules.Module with "
                            "@module_kind(\"name\")")
