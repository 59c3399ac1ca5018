"""nasdsl from Python, for researchers who bring their own training loop: a space, its
supernet as an `nn.Module` with its architecture parameters, a method's mixing weights, the
architecture it derives, the derived network, and its benchmark figures. These names are
re-exported by `import nasdsl` and are the stable surface (see the README's "Python API").

    import nasdsl
    space = nasdsl.load_space("nb201", overrides={"C": 8, "N": 1})
    method = nasdsl.method("darts")
    net = nasdsl.supernet(space, method)
    logits = net(x, method.run(net))          # the method's mixing weights in every edge
    ...                                       # your optimizers on net.weight_parameters(),
                                              # net.arch_parameters()
    arch = method.derive(net, space)
    print(nasdsl.arch_text(space, arch))
    evaluation = nasdsl.derived_network(space, arch)
"""

from __future__ import annotations

from pathlib import Path

from nasdsl.architecture.derive import Architecture, derived_space
from nasdsl.backends.torch.derived import DerivedNetwork
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.space import Space
from nasdsl.methods import get_method, method_names
from nasdsl.methods.base import Method
from nasdsl.nb201 import open_benchmark
from nasdsl.search.config import SearchConfig
from nasdsl.search.loop import arch_text
from nasdsl.simplify.cost import Setting

__all__ = ["Architecture", "DerivedNetwork", "Method", "Space", "Supernet", "arch_text",
           "derived_network", "load_space", "lookup", "method", "method_names", "supernet"]


def load_space(name_or_path: str | Path, *, overrides: dict[str, int | float] | None = None,
               image: tuple[int, int] | None = None, classes: int | None = None) -> Space:
    """A `.nas` file (or a shipped space's name) read, checked and elaborated for a search:
    `overrides` set the network's `let`s, `image` = (channels, size) and `classes` fit it to
    your data. Errors are `nasdsl.errors.NasErrors`, each with file, line and column."""
    return load(name_or_path, overrides=overrides, image=image, classes=classes)


def method(name: str, **options) -> Method:
    """A registered search method by name (`method_names()` lists them), its options by
    their command-line names with `_` for `-` (e.g. `method("pc-darts", partial_k=2)`)."""
    cls = get_method(name)
    given = tuple((key.replace("_", "-"), value) for key, value in options.items())
    return cls(SearchConfig(space="", method=name, method_options=given))


def supernet(space: Space, method: Method, *, simplify: bool = True, batch: int = 64,
             device: str = "cpu", precision: str = "fp32",
             memory_budget: int | None = None) -> Supernet:
    """The supernet of `space` as `method` needs it (its architecture parameters, partial
    channels ...): simplified where the cost model finds it pays at `batch`, or naive;
    fitted into `memory_budget` bytes of activations where one is given. Call it as
    `net(x, method.run(net))`; its weights are `net.weight_parameters()`, its architecture
    parameters `net.arch_parameters()`."""
    options = BuildOptions(simplify=simplify, setting=Setting(batch=batch), device=device,
                           precision=precision, memory_budget=memory_budget)
    return method.supernet(space, options)


def derived_network(space: Space, arch: Architecture, *, auxiliary: bool = False,
                    drop_path: float = 0.0,
                    overrides: dict[str, int | float] | None = None) -> DerivedNetwork:
    """The stand-alone network of a derived architecture, to train from scratch (DARTS's
    auxiliary head and drop path as options), at the sizes and for the data `space` was
    loaded with; `overrides` change its sizes, e.g. {"C": 36, "N": 6} for DARTS's
    evaluation network."""
    loaded = space.settings
    evaluation = derived_space(space, arch, phase="eval",
                               overrides={**dict(loaded.overrides), **(overrides or {})},
                               image=loaded.image, classes=loaded.classes)
    return DerivedNetwork(evaluation, auxiliary=auxiliary, drop_path=drop_path)


def lookup(arch: str, benchmark: str | Path) -> dict:
    """NAS-Bench-201's figures (accuracies per dataset) of an NB201 arch string, from its
    table (.csv), its official file or the NATS-Bench topology archive."""
    return open_benchmark(benchmark).lookup(arch)
