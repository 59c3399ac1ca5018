"""The architecture `nasdsl train` is given, as the space of its evaluation network.

ARCH is a derived `.nas` file, a run directory (its `derived.nas`, or for DARTS's ImageNet
network the genotype in its `result.json`), a NAS-Bench-201 arch string (a cell of the
shipped nb201 space), a DARTS genotype string or a published cell's name (DARTS's
NetworkCIFAR or NetworkImageNet around it, `architecture.evaluation`). The space is loaded
in its evaluation phase (the modules as a stand-alone network uses them) at the preset's
sizes, where its network declares them."""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from nasdsl.architecture.derive import derived_text, from_nb201
from nasdsl.architecture.evaluation import evaluation_text
from nasdsl.architecture.published import PUBLISHED, published_text
from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.space import Space
from nasdsl.errors import NasError
from nasdsl.search.run_dir import DERIVED, RESULT

ARCH_HINT = ("a derived .nas file, a run directory of `nasdsl run`, an NB201 arch "
             "string (|nor_conv_3x3~0|+|...|), a DARTS genotype (Genotype(normal=[...], ...)) "
             f"or a published cell ({', '.join(PUBLISHED)})")


@attrs.frozen
class Source:
    """Where an architecture's text comes from: the `.nas` text, and the name it goes by."""

    name: str
    text: str


def source_of(arch: str, network: str = "cifar") -> Source:
    """The `.nas` text of the derived architecture ARCH names; a genotype or a published
    cell is placed in DARTS's `network` ("cifar" or "imagenet")."""
    text = arch.strip()
    if text.startswith("|"):
        space = load("nb201")
        return Source("<NB201 arch string>", derived_text(space, from_nb201(text)))
    if text.startswith("Genotype("):
        return Source("<genotype>", evaluation_text(text, network))
    if text.lower() in {name.lower() for name in PUBLISHED}:
        return Source(f"<{text}>", published_text(text, network))
    path = Path(arch).expanduser()
    if path.is_dir():
        return _run_directory(path, network)
    if path.suffix == ".nas":
        if not path.is_file():
            raise NasError(f"{path}: no such file", hint=ARCH_HINT)
        return Source(str(path), path.read_text(encoding="utf-8"))
    raise NasError(f"cannot tell what architecture {arch[:60]!r} is", hint=ARCH_HINT)


def _run_directory(path: Path, network: str) -> Source:
    """A finished search's architecture: its `derived.nas`, or in DARTS's ImageNet network
    the genotype it derived (a search's network is a CIFAR one)."""
    if network != "cifar":
        result = path / RESULT
        arch = json.loads(result.read_text()).get("arch", "") if result.is_file() else ""
        if not arch.startswith("Genotype("):
            raise NasError(f"{path} holds no DARTS genotype in its {RESULT} to place in the "
                           f"{network} network", hint="a search of a DARTS-shaped space writes one")
        return Source(f"<the genotype of {path}>", evaluation_text(arch, network))
    derived = path / DERIVED
    if not derived.is_file():
        raise NasError(f"{path} has no {DERIVED}: it is not the directory of a finished "
                       "search", hint="a search writes it when its last epoch ends")
    return Source(str(derived), derived.read_text(encoding="utf-8"))


def evaluation_space(source: Source, overrides: tuple[tuple[str, int | float], ...],
                     preset_overrides: tuple[tuple[str, int | float], ...] = (),
                     image: tuple[int, int] | None = None, classes: int | None = None) -> Space:
    """The space of the evaluation network: `source` in its eval phase with `overrides`
    (the command line's: each must be a `let` of the network) and those of
    `preset_overrides` that the network declares (a macro network has no C or N)."""
    declared = network_lets(source)
    sizes = {name: value for name, value in preset_overrides if name in declared}
    sizes.update(dict(overrides))
    space = load(source.name, text=source.text, phase="eval", overrides=sizes, image=image,
                 classes=classes)
    if any(kind.edges for kind in space.cell_kinds):
        raise NasError(f"{source.name} is a search space, not a derived architecture: an edge "
                       "has several ops", hint=ARCH_HINT)
    return space


def network_lets(source: Source) -> set[str]:
    """The names the network of `source` declares with `let`."""
    space = load(source.name, text=source.text, phase="eval")
    return {stmt.name for item in space.programs[-1].items if isinstance(item, S.NetworkDef)
            for stmt in item.body if isinstance(stmt, S.Let)}
