"""A supernet fitted into a memory budget: the stages as the chooser (`simplify.budget`) sees
them, with the part of each stage's memory that the cost model does not model measured on a
small batch of the naive supernet."""

from __future__ import annotations

import attrs
import torch

from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.measure import saved_bytes_per_module
from nasdsl.dsl import space as IR
from nasdsl.simplify.budget import Stage
from nasdsl.simplify.compiler import edge_site
from nasdsl.simplify.cost import Setting, estimate
from nasdsl.simplify.plan import naive_plan

# The batch the naive supernet is measured at; what a stage keeps grows in proportion to the
# batch (two samples: batch norm needs more than one value per channel).
PROBE_BATCH = 2


def stages(probe, network: IR.Network, setting: Setting) -> list[Stage]:
    """Each stage of `network` at the setting's batch, from `probe`, its naive supernet at
    `PROBE_BATCH`: what the stage saves beyond the cost model's figure for its naive edges
    (preprocessing, node sums, partial channels' bypass, the model's error on its edges),
    and the bytes of its inputs."""
    device = probe._anchor.device
    x = torch.randn(PROBE_BATCH, network.input_channels, network.input_size,
                    network.input_size, device=device)
    run = Run(softmax_weights(probe.views))
    saved, taken = saved_bytes_per_module(lambda: probe(x, run), list(probe.stages),
                                          exclude=probe)
    scale = setting.batch / PROBE_BATCH
    at_probe = attrs.evolve(setting, batch=PROBE_BATCH)
    result = []
    for stage, measured, inputs in zip(network.stages, saved, taken):
        sites = tuple(edge_site(stage, edge) for edge in stage.edges) \
            if isinstance(stage, IR.Cell) else ()
        modelled = sum(estimate(naive_plan(site.ops).root, site.channels,
                                attrs.evolve(at_probe, size=site.size)).saved_bytes
                       for site in sites)
        result.append(Stage(sites, round((measured - modelled) * scale), round(inputs * scale)))
    return result


def recomputation_peak(net, forward) -> int:
    """The most bytes the backward of one of `net`'s recomputed stages brings back at once:
    the largest that such a stage saves when `forward()` runs it without recomputation. The
    bytes saved for backward do not see it (checkpointing keeps the recomputed tensors
    apart), so a step's peak is its saved bytes plus this, at most."""
    chosen = sorted(net.recomputed)
    if not chosen:
        return 0
    net.recomputed = frozenset()
    try:
        saved, _ = saved_bytes_per_module(forward, [net.stages[i] for i in chosen], exclude=net)
    finally:
        net.recomputed = frozenset(chosen)
    return max(saved)
