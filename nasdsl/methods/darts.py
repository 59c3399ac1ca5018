"""DARTS (Liu et al., ICLR 2019): softmax mixing weights; first-order architecture steps by
default, or the unrolled second-order approximation with a finite-difference Hessian-vector
product (DARTS Eq. 7-8)."""

from __future__ import annotations

import torch

from nasdsl.methods import register
from nasdsl.methods.base import Method, Option


@register
class Darts(Method):
    name = "darts"
    options = (Option("second-order", bool, False,
                      "DARTS's unrolled architecture gradient (Eq. 7-8) instead of the "
                      "first-order one"),)

    def arch_step(self, net, train_batch, valid_batch, arch_optimizer, weight_optimizer):
        if not self.option("second-order"):
            return super().arch_step(net, train_batch, valid_batch, arch_optimizer,
                                     weight_optimizer)
        return self._unrolled_step(net, train_batch, valid_batch, arch_optimizer,
                                   weight_optimizer)

    def _unrolled_step(self, net, train_batch, valid_batch, arch_optimizer, weight_optimizer):
        weights = net.weight_parameters()
        arch = net.arch_parameters()
        lr = weight_optimizer.param_groups[0]["lr"]
        momentum = weight_optimizer.param_groups[0]["momentum"]
        decay = weight_optimizer.param_groups[0]["weight_decay"]
        original = [w.detach().clone() for w in weights]

        # w' = w - lr * (momentum buffer + grad + decay * w): one virtual SGD step.
        grads = self.average(torch.autograd.grad(self.weight_loss(net, *train_batch), weights,
                                                 allow_unused=True))
        with torch.no_grad():
            for w, g in zip(weights, grads):
                state = weight_optimizer.state.get(w, {})
                buffer = state.get("momentum_buffer")
                step = (0 if g is None else g) + decay * w
                if buffer is not None:
                    step = step + momentum * buffer
                w.sub_(lr * step)

        arch_optimizer.zero_grad(set_to_none=True)
        loss = self.arch_loss(net, *valid_batch)
        grads = self.average(torch.autograd.grad(loss, [*arch, *weights], allow_unused=True))
        arch_grads, weight_grads = grads[:len(arch)], grads[len(arch):]
        weight_grads = [torch.zeros_like(w) if g is None else g
                        for w, g in zip(weights, weight_grads)]

        # Finite difference: (d/dalpha L_train(w+) - d/dalpha L_train(w-)) / 2r.
        norm = torch.sqrt(sum((g * g).sum() for g in weight_grads))
        radius = 0.01 / (norm + 1e-12)
        hessian = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for w, w0, g in zip(weights, original, weight_grads):
                    w.copy_(w0 + sign * radius * g)
            hessian.append(self.average(torch.autograd.grad(
                self.weight_loss(net, *train_batch), arch, allow_unused=True)))
        with torch.no_grad():
            for w, w0 in zip(weights, original):
                w.copy_(w0)
        for a, g, plus, minus in zip(arch, arch_grads, *hessian):
            g = torch.zeros_like(a) if g is None else g
            plus = torch.zeros_like(a) if plus is None else plus
            minus = torch.zeros_like(a) if minus is None else minus
            a.grad = g - lr * (plus - minus) / (2 * radius)
        arch_optimizer.step()
        return loss.item()
