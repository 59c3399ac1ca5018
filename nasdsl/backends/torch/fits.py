"""Whether a supernet fits in memory, checked before any of it is allocated.

A valid space can still be absurd (`let C = 1000000000`, a kernel of a million, an input of a
billion pixels a side): building it would end in the allocator's traceback, or in the
machine's swap. The modules' parameter counts and the cost model's activation bytes give
an estimate without allocating, which is compared with the memory the device has free.
"""

from __future__ import annotations

from collections import Counter

import attrs
import torch

from nasdsl.dsl import space as IR
from nasdsl.errors import NasError
from nasdsl.simplify.compiler import network_sites
from nasdsl.simplify.cost import estimate
from nasdsl.simplify.plan import naive_plan

# A weight is held with its gradient and an optimizer state (SGD's momentum).
COPIES_OF_A_WEIGHT = 3


def parameter_count(network: IR.Network) -> int:
    """The weights of the naive supernet, from the modules' declared counts."""
    total = 0
    for stage in network.stages:
        if isinstance(stage, IR.Layer):
            total += sum(module.parameter_count for module in stage.modules)
            continue
        total += sum(module.parameter_count for chain in stage.preprocess for module in chain)
        total += sum(module.parameter_count for edge in (*stage.edges, *stage.fixed)
                     for op in edge.candidates for module in op.modules)
    return total


def required_bytes(network: IR.Network, setting, dtype_bytes: int) -> int:
    """An estimate of what training the naive supernet holds: its weights (with gradients
    and optimizer states) and the activations its edges keep for backward at the setting's
    batch (the cost model's figure; the simplified supernet keeps less)."""
    weights = COPIES_OF_A_WEIGHT * dtype_bytes * parameter_count(network)
    sites = Counter(network_sites(network))
    activations = sum(count * estimate(naive_plan(site.ops).root, site.channels,
                                       _at(setting, site.size, dtype_bytes)).saved_bytes
                      for site, count in sites.items())
    return weights + activations


def _at(setting, size: int, dtype_bytes: int):
    return attrs.evolve(setting, size=size, dtype_bytes=dtype_bytes)


def free_bytes(device: torch.device) -> int | None:
    """The memory `device` has free, or None where that cannot be told."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_fits(network: IR.Network, setting, dtype_bytes: int, device: torch.device) -> None:
    """A NasError, stating the estimate, where the supernet cannot fit in `device`'s free
    memory."""
    needed = required_bytes(network, setting, dtype_bytes)
    free = free_bytes(device)
    if free is not None and needed > free:
        weights = COPIES_OF_A_WEIGHT * dtype_bytes * parameter_count(network)
        raise NasError(f"the supernet of '{network.name}' would need about {_gib(needed)} on "
                       f"{device} at batch {setting.batch}, {_gib(weights)} of it weights with "
                       f"their gradients and optimizer states, and {_gib(free)} is free",
                       hint="make it smaller (--set its channels, cells or input size) or "
                            "the batch")


def _gib(count: int) -> str:
    return f"{count / 2**30:,.1f} GiB"
