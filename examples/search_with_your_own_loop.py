"""A DARTS search written as a plain PyTorch loop, with nasdsl providing the space, the
supernet, the mixing weights and the derived architecture (no nasdsl training loop).

    python examples/search_with_your_own_loop.py            # NB201 on the digits, ~1 min
    python examples/search_with_your_own_loop.py --quick    # a few steps: checks it runs

It searches the NAS-Bench-201 cell on scikit-learn's 8x8 handwritten digits (embedded, so it
runs offline), prints the derived cell as an NB201 arch string, builds the derived network
and, given `--benchmark` (a NAS-Bench-201 table, official file or NATS-Bench archive), looks
the cell up.
"""

import argparse

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

import nasdsl


def digits(seed: int):
    """The digits as two halves, one to train the weights, one the architecture."""
    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32)[:, None] / 16.0
    y = torch.tensor(data.target)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    half = len(y) // 2
    return (x[order[:half]], y[order[:half]]), (x[order[half:]], y[order[half:]])


def batches(x, y, size: int, generator):
    order = torch.randperm(len(y), generator=generator)
    for start in range(0, len(y) - size + 1, size):
        chosen = order[start:start + size]
        yield x[chosen], y[chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--benchmark", help="NAS-Bench-201 table, file or NATS-Bench archive")
    args = parser.parse_args()
    torch.manual_seed(0)
    epochs, steps = (1, 3) if args.quick else (args.epochs, None)

    space = nasdsl.load_space("nb201", overrides={"C": 8, "N": 1}, image=(1, 8), classes=10)
    method = nasdsl.method("darts")
    net = nasdsl.supernet(space, method, batch=64)
    weights = torch.optim.SGD(net.weight_parameters(), lr=0.025, momentum=0.9,
                              weight_decay=3e-4)
    architecture = torch.optim.Adam(net.arch_parameters(), lr=3e-4, betas=(0.5, 0.999),
                                    weight_decay=1e-3)
    (x_w, y_w), (x_a, y_a) = digits(seed=0)
    generator = torch.Generator().manual_seed(0)

    for epoch in range(epochs):
        net.train()
        pairs = zip(batches(x_w, y_w, 64, generator), batches(x_a, y_a, 64, generator))
        for step, ((x, y), (xa, ya)) in enumerate(pairs):
            if steps is not None and step == steps:
                break
            # DARTS's first-order alternation: the weights on one half ...
            weights.zero_grad()
            F.cross_entropy(net(x, method.run(net)), y).backward()
            torch.nn.utils.clip_grad_norm_(net.weight_parameters(), 5.0)
            weights.step()
            # ... the architecture parameters on the other.
            architecture.zero_grad()
            F.cross_entropy(net(xa, method.run(net)), ya).backward()
            architecture.step()
        arch = method.derive(net, space)
        print(f"epoch {epoch}: {nasdsl.arch_text(space, arch)}")

    derived = nasdsl.derived_network(space, arch)
    parameters = sum(p.numel() for p in derived.parameters())
    print(f"derived cell: {nasdsl.arch_text(space, arch)} ({parameters:,} parameters here)")
    if args.benchmark:
        figures = nasdsl.lookup(nasdsl.arch_text(space, arch), args.benchmark)
        print(f"NAS-Bench-201: {figures}")


if __name__ == "__main__":
    main()
