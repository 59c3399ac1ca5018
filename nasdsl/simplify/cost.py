"""A cost model for plans: FLOPs of forward + backward, bytes saved for backward, time.

The model walks a plan with symbolic tensors (channels and resolution, an identity for each
distinct tensor) and counts what torch would do:
  - saved bytes: the tensors autograd keeps for backward, each distinct tensor once, as
    torch saves them: a conv, BN, pooling or linear layer keeps its input, ReLU its output,
    max pooling also its int64 indices, a weight multiplying a branch keeps the branch's
    output; sums, concatenations and zeros keep nothing;
  - FLOPs: multiply-adds of convolutions and linear layers counted as 2 FLOPs, forward and
    backward (gradients of input and of weights), as torch's FlopCounterMode counts them, in
    particular a grouped convolution's weight gradient counted as if it were dense;
  - time: a roofline estimate per layer for the target, used only to rank plans.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from nasdsl.dsl import modules as M
from nasdsl.errors import NasError
from nasdsl.simplify.plan import Apply, Merged, Mix, Node, Plan, PlanInterpreter, recomputable

INDEX_BYTES = 8  # max pooling keeps int64 indices

# What the chooser minimizes (see `simplify.choose_plans`): seed 000 Eq. 29's normalized cost
# of the whole network, the step time, or the activation memory.
OBJECTIVES = ("cost", "time", "memory")
OBJECTIVE_HELP = ("what the cost model minimizes when it chooses rewrites: cost (seed 000 "
                  "Eq. 29, memory and time together; default), time or memory")


@attrs.frozen
class Setting:
    """Where an edge runs: batch, input resolution, bytes per element, device, objective."""

    batch: int = 64
    size: int = 32
    dtype_bytes: int = 4
    target: str = "cpu"
    objective: str = "cost"


@attrs.frozen
class Device:
    """Rough throughputs of a target, for ranking plans (not for reporting)."""

    dense_flops: float  # FLOP/s of dense convolutions
    depthwise_flops: float  # FLOP/s of grouped convolutions (memory bound on most devices)
    bandwidth: float  # bytes/s for elementwise layers
    overhead: float  # seconds per layer launched
    recompute_overhead: float  # seconds per branch recomputed in backward (checkpointing)


# CPU figures fitted (least squares on relative error) to the forward + backward times of every
# alternative plan of every distinct edge of nb201, darts and darts_large at search batches
# (496 plans), torch 2.13 (oneDNN) on 2 Xeon cores: median error 10%, against 37% for rates
# taken from single layers. Elementwise layers and layer launches cost more inside a plan than
# alone. The CUDA figures are estimates, not measured (no GPU was available).
DEVICES = {
    "cpu": Device(dense_flops=200e9, depthwise_flops=7e9, bandwidth=7e9, overhead=65e-6,
                  recompute_overhead=1.5e-3),
    "cuda": Device(dense_flops=20e12, depthwise_flops=1e12, bandwidth=1e12, overhead=10e-6,
                   recompute_overhead=50e-6),
}


def target_device(target: str) -> Device:
    """The throughputs of a target by name: those of cpu or cuda."""
    if target not in DEVICES:
        raise NasError(f"the cost model knows no target '{target}'",
                       hint=f"targets: {', '.join(DEVICES)}")
    return DEVICES[target]


@attrs.frozen
class Cost:
    flops: float = 0.0  # forward + backward FLOPs of convolutions and linear layers
    saved_bytes: int = 0
    seconds: float = 0.0

    def key(self, objective: str) -> tuple:
        if objective == "memory":
            return (self.saved_bytes, self.seconds)
        return (self.seconds, self.saved_bytes)


@attrs.frozen
class _Tensor:
    ident: int
    channels: int
    size: int


@attrs.frozen
class LayerCost:
    """What one layer of a module kind defined outside nasdsl costs, per sample: whether
    autograd keeps its input and its output for backward, how many other elements it keeps,
    and the multiply-adds of its forward (counted, with their backward, as a convolution's)."""

    keeps_input: bool = True
    keeps_output: bool = False
    kept_elements: int = 0
    macs: int = 0


# The costs of module kinds defined outside nasdsl (the shipped ones are methods of the
# estimator), by kind: cost(module, channels, size) -> LayerCost.
COSTS: dict[type, Callable[[M.Module, int, int], LayerCost]] = {}


def register_cost(kind: type[M.Module], cost: Callable[[M.Module, int, int], LayerCost]) -> None:
    """Make `cost(module, channels, size)` what the cost model charges for a module kind
    defined outside nasdsl (an elementwise kind, declaring `elementwise` and `saves`, needs
    none)."""
    COSTS[kind] = cost


class _Estimator(PlanInterpreter):
    """The plan run on symbolic tensors: one method per plan node kind, and one per module
    kind."""

    def __init__(self, setting: Setting, recompute: bool, device: Device):
        self.setting = setting
        self.recompute = recompute
        self.device = device
        self.saved: dict[int, int] = {}
        self.flops = 0.0
        self.seconds = 0.0
        self._next = 0

    def tensor(self, channels: int, size: int) -> _Tensor:
        self._next += 1
        return _Tensor(self._next, channels, size)

    def numel(self, t: _Tensor) -> int:
        return self.setting.batch * t.channels * t.size * t.size

    def keep(self, t: _Tensor, bytes_per_element: int | None = None) -> None:
        self.saved[t.ident] = self.numel(t) * (bytes_per_element or self.setting.dtype_bytes)

    def elementwise(self, *tensors: _Tensor, passes: int = 2) -> None:
        """Forward and backward of a layer that reads and writes each element a few times."""
        moved = sum(self.numel(t) for t in tensors) * self.setting.dtype_bytes * passes
        self.seconds += moved / self.device.bandwidth + 2 * self.device.overhead

    def conv_work(self, macs: float, groups: int = 1) -> None:
        """Forward, input gradient and weight gradient of a convolution of `macs` per pass."""
        self.flops += 2 * macs * (2 + groups)  # FlopCounterMode's weight gradient ignores groups
        rate = self.device.depthwise_flops if groups > 1 else self.device.dense_flops
        self.seconds += 2 * macs * 3 / rate + 3 * self.device.overhead

    # plan nodes
    def apply(self, node: Apply, x):
        return self.module(node.module, x)

    def mix(self, node: Mix, x):
        outputs = []
        for branch in node.branches:
            if self.recompute and recomputable(branch):
                outputs.append(self.recomputed(branch, x))
                continue
            out = self.run(branch.node, x)
            if branch.weight is not None:
                self.keep(out)
                self.elementwise(out)
                out = self.tensor(out.channels, out.size)
            outputs.append(out)
        if not outputs:
            return self.tensor(x.channels, x.size)
        total = self.tensor(outputs[0].channels, outputs[0].size)
        if len(outputs) > 1:
            self.elementwise(*outputs, passes=1)
        return total

    def recomputed(self, branch, x: _Tensor) -> _Tensor:
        """A branch run again in backward: it keeps only its input, and costs its forward
        twice (about a third of its forward and backward more)."""
        saved, seconds = dict(self.saved), self.seconds
        out = self.run(branch.node, x)
        self.elementwise(out)
        self.saved = saved
        self.keep(x)
        self.seconds += (self.seconds - seconds) / 3 + self.device.recompute_overhead
        return self.tensor(out.channels, out.size)

    def merged(self, node: Merged, x):
        out = self.tensor(node.c_out, -(-x.size // node.stride))
        self.keep(x)
        self.conv_work(self.numel(out) * node.c_in * node.extent ** 2)
        # The conv keeps the merged kernel; the terms' kernels are rebuilt in backward.
        kernel_bytes = node.c_out * node.c_in * node.extent ** 2 * self.setting.dtype_bytes
        self.saved[self.tensor(0, 0).ident] = kernel_bytes
        self.seconds += len(node.terms) * 4 * self.device.overhead
        return out

    # modules
    def module(self, module: M.Module, x: _Tensor) -> _Tensor:
        if module.elementwise:
            return self.elementwise_module(module, x)
        if type(module) in COSTS:
            return self.registered_module(module, x)
        handler = getattr(self, f"module_{module.kind}", None)
        if handler is None:
            raise NasError(f"module kind '{module.kind}' has no cost",
                           hint="register one: nasdsl.simplify.cost.register_cost(kind, cost), "
                                "cost(module, channels, size) giving a LayerCost")
        return handler(module, x)

    def registered_module(self, module: M.Module, x: _Tensor) -> _Tensor:
        cost = COSTS[type(module)](module, x.channels, x.size)
        out = self.tensor(module.out_channels(x.channels), module.out_size(x.size))
        for kept, tensor in ((cost.keeps_input, x), (cost.keeps_output, out)):
            if kept:
                self.keep(tensor)
        if cost.kept_elements:
            self.saved[self.tensor(0, 0).ident] = \
                cost.kept_elements * self.setting.batch * self.setting.dtype_bytes
        if cost.macs:
            self.conv_work(cost.macs * self.setting.batch)
        self.elementwise(x, out)
        return out

    def elementwise_module(self, module: M.Module, x: _Tensor) -> _Tensor:
        out = self.tensor(x.channels, x.size)
        kept = {"input": x, "output": out, "mask": self.tensor(x.channels, x.size)}
        if module.saves in kept:
            self.keep(kept[module.saves])
        self.elementwise(x, out, passes=2)
        return out

    def module_identity(self, module, x):
        return x

    def module_zero(self, module, x):
        return self.tensor(x.channels, module.out_size(x.size))

    def module_conv(self, module: M.Conv, x):
        out = self.tensor(module.c_out, module.out_size(x.size))
        self.keep(x)
        height, width = module.kernel_size
        macs = self.numel(out) * (module.c_in // module.groups) * height * width
        self.conv_work(macs, module.groups)
        return out

    def module_bn(self, module, x):
        out = self.tensor(x.channels, x.size)
        self.keep(x)
        self.elementwise(x, out, passes=3)
        return out

    def pooled_input(self, module: M.Pool, x: _Tensor) -> _Tensor:
        """What a pool keeps for backward: its input, or for an even kernel the padded copy
        of it that the pool runs on."""
        if module.kernel % 2:
            return x
        padded = self.tensor(x.channels, x.size + sum(module.padding))
        self.elementwise(x, padded, passes=1)
        return padded

    def module_avg_pool(self, module, x):
        out = self.tensor(x.channels, module.out_size(x.size))
        self.keep(self.pooled_input(module, x))
        if module.kernel % 2 == 0 and not module.count_include_pad:
            # The divisor, one map for the batch and the channels, which the division keeps.
            self.saved[self.tensor(0, 0).ident] = out.size ** 2 * self.setting.dtype_bytes
        self.elementwise(x, out, passes=module.kernel)
        return out

    def module_max_pool(self, module, x):
        out = self.tensor(x.channels, module.out_size(x.size))
        self.keep(self.pooled_input(module, x))
        self.keep(self.tensor(out.channels, out.size), INDEX_BYTES)
        self.elementwise(x, out, passes=module.kernel)
        return out

    def module_factorized_reduce(self, module: M.FactorizedReduce, x):
        relu = self.module(M.ReLU(), x)
        # The shifted input is a view of the ReLU's output (saved already), padded into a
        # tensor of its own only at odd sizes.
        shifted = self.tensor(x.channels, x.size) if x.size % 2 else relu
        half = M.Conv(module.c_in, module.c_out // 2, 1, stride=2)
        self.module_conv(half, relu)
        self.module_conv(half, shifted)
        joined = self.tensor(module.c_out, module.out_size(x.size))
        return self.module_bn(M.BatchNorm(module.c_out), joined)

    def module_resnet_block(self, module: M.ResNetBlock, x):
        def relu_conv_bn(c_in, c_out, kernel, stride, t):
            t = self.module(M.ReLU(), t)
            t = self.module_conv(M.Conv(c_in, c_out, kernel, stride), t)
            return self.module_bn(M.BatchNorm(c_out), t)
        body = relu_conv_bn(module.c_in, module.c_out, 3, module.stride, x)
        body = relu_conv_bn(module.c_out, module.c_out, 3, 1, body)
        if module.stride == 2:
            pooled = self.module_avg_pool(M.AvgPool(3, 2), x)
            self.module_conv(M.Conv(module.c_in, module.c_out, 1), pooled)
        elif module.c_in != module.c_out:
            relu_conv_bn(module.c_in, module.c_out, 1, 1, x)
        return self.tensor(module.c_out, body.size)

    def module_noise(self, module, x):
        out = self.tensor(x.channels, module.out_size(x.size))
        self.elementwise(out, passes=2)
        return out

    def module_branches(self, module: M.Branches, x):
        """Each branch from the input, then the combination: a sum or a concatenation keeps
        nothing, a product keeps both factors (each is the other's gradient)."""
        outputs = []
        for branch in module.branches:
            out = x
            for inner in branch:
                out = self.module(inner, out)
            outputs.append(out)
        if module.combine == "product":
            for out in outputs:
                self.keep(out)
        self.elementwise(*outputs, passes=1)
        return self.tensor(module.c_out, max(out.size for out in outputs))

    def module_channel_shuffle(self, module, x):
        out = self.tensor(x.channels, x.size)  # a copy; its backward keeps nothing
        self.elementwise(x, out)
        return out

    def module_global_avg_pool(self, module, x):
        return self.tensor(x.channels, 1)

    def module_linear(self, module: M.Linear, x):
        self.keep(x)
        self.flops += 2 * 3 * self.setting.batch * module.c_in * module.c_out
        return self.tensor(module.c_out, 1)


def estimate(node: Node, channels: int, setting: Setting, recompute: bool = True,
             device: Device | None = None) -> Cost:
    """The cost of running `node` on an input of `channels` at the setting's batch and size
    (the input counts among the saved tensors where a layer keeps it, as torch counts it);
    `recompute`: recomputable branches are run again in backward; `device`: throughputs
    other than the setting's target's (experiments/calibrate.py fits them)."""
    estimator = _Estimator(setting, recompute, device or target_device(setting.target))
    estimator.run(node, estimator.tensor(channels, setting.size))
    return Cost(estimator.flops, sum(estimator.saved.values()), estimator.seconds)


def plan_cost(plan: Plan, channels: int, setting: Setting, device: Device | None = None) -> Cost:
    return estimate(plan.root, channels, setting, recompute=plan.recompute, device=device)
