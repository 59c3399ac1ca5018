"""SDARTS (Chen & Hsieh, "Stabilizing Differentiable Architecture Search via Perturbation-based
Regularization", ICML 2020): DARTS whose weight step trains the supernet at perturbed
architecture weights, so that the weights it learns do not depend sharply on the
architecture and the loss landscape of alpha stays smooth.

The weight step runs at A + delta, A = softmax(alpha), clipped as the reference code's `clip`
does (each edge's weights clamped to [0, 1] and divided by their sum; an edge left all zero
keeps its strongest candidate). `sdarts-rs` draws delta uniformly from [-epsilon, epsilon]
each step (random smoothing); `sdarts-adv` takes delta from projected gradient ascent on
the training loss: a random start in that box, then `steps` signed steps of 2 epsilon /
steps, each projected back into the box, run with the supernet in eval mode, and no
perturbation where the ascent ends below the unperturbed loss (the reference code's
`Linf_PGD_alpha`). epsilon = 0.03 and 7 steps, as automl's configurable optimizer defaults
them. The architecture step is DARTS's first-order one at A. Simplification composes as
with DARTS: the perturbed weights are weights like any other.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nasdsl.arguments import POSITIVE, Range
from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.methods import register
from nasdsl.methods.base import Method, Option

EPSILON = Option("epsilon", Range(float, low=0), 0.03,
                 "SDARTS: the radius of the perturbation of each architecture weight")


class Smoothed(Method):
    """DARTS with its weight step at perturbed weights; subclasses draw the perturbation."""

    options = (EPSILON,)

    def perturbation(self, net, weights: dict, x, y) -> dict[str, torch.Tensor]:
        """delta per kind, within [-epsilon, epsilon] and zero in the padding columns."""
        raise NotImplementedError

    def weight_backward(self, net, x, y):
        weights = {name: w.detach() for name, w in softmax_weights(net.views).items()}
        delta = self.perturbation(net, weights, x, y)
        logits = net(x, Run(clipped(net, weights, delta)))
        loss = F.cross_entropy(logits, y)
        loss.backward()
        return loss.item(), (logits.argmax(1) == y).float().mean().item()

    def uniform(self, net) -> dict[str, torch.Tensor]:
        epsilon = self.option("epsilon")
        return {name: torch.empty_like(view["alpha"]).uniform_(-epsilon, epsilon) * view.mask
                for name, view in net.views.items()}


def clipped(net, weights: dict, delta: dict) -> dict[str, torch.Tensor]:
    """weights + delta, each edge's clamped to [0, 1] and normalized to sum to one (an edge
    left all zero: one-hot on its strongest candidate before the clamp)."""
    result = {}
    for name, w in weights.items():
        mask = net.views[name].mask
        moved = w + delta[name]
        kept = moved.clamp(0, 1) * mask
        empty = kept.sum(-1, keepdim=True) == 0
        strongest = F.one_hot(moved.masked_fill(~mask, float("-inf")).argmax(-1),
                              w.shape[-1]).to(w.dtype)
        kept = torch.where(empty, strongest, kept)
        result[name] = kept / kept.sum(-1, keepdim=True)
    return result


@register
class SdartsRs(Smoothed):
    name = "sdarts-rs"

    def perturbation(self, net, weights, x, y):
        return self.uniform(net)


@register
class SdartsAdv(Smoothed):
    name = "sdarts-adv"
    options = (EPSILON, Option("steps", POSITIVE, 7, "SDARTS-ADV: steps of gradient ascent"))

    def perturbation(self, net, weights, x, y):
        epsilon, steps = self.option("epsilon"), self.option("steps")
        training = net.training
        net.eval()
        try:
            with torch.no_grad():
                before = F.cross_entropy(net(x, Run(weights)), y)
            delta = self.uniform(net)
            for _ in range(steps):
                moved = {name: w.requires_grad_() for name, w in
                         clipped(net, weights, delta).items()}
                loss = F.cross_entropy(net(x, Run(moved)), y)
                grads = self.average(torch.autograd.grad(loss, list(moved.values())))
                with torch.no_grad():
                    for (name, w), g in zip(moved.items(), grads):
                        step = w + 2 * epsilon / steps * g.sign()
                        delta[name] = (step - weights[name]).clamp(-epsilon, epsilon) * \
                            net.views[name].mask
            with torch.no_grad():
                after = F.cross_entropy(net(x, Run(clipped(net, weights, delta))), y)
            before, after = self.average([before, after])
            if before > after:
                delta = {name: torch.zeros_like(d) for name, d in delta.items()}
        finally:
            net.train(training)
        return delta
