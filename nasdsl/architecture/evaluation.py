"""A genotype's evaluation network, written as a `.nas` file: the network the DARTS reference
code trains a genotype in (cnn/model.py), NetworkCIFAR or NetworkImageNet's mobile setting,
around the genotype's normal and reduction cells.

The text stands alone (its ops and chains are copied in from `published_ops.nas`, which
imports the DARTS ops), so a user can read it, `nasdsl check` it and edit it; the network
declares `C`, `classes` and, where the three stages of normal cells are equally deep (as in
the reference settings), `N`, so that `--set` resizes it.
"""

from __future__ import annotations

import textwrap

import attrs

from nasdsl.architecture.derive import standalone
from nasdsl.architecture.genotypes import INPUTS, Genotype, GenotypeCell, read_genotype, \
    write_genotype
from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.printer import print_program
from nasdsl.dsl.space import Space
from nasdsl.errors import NasCheckError, NasError, did_you_mean

OPS_FILE = "published_ops.nas"
CELLS = ("normal", "reduce")  # the genotype's cells the network places, reduction last


@attrs.frozen
class Setting:
    """One reference evaluation network: its defaults (DARTS's papers' settings) and how it
    is described in the file."""

    network: str  # the reference class
    channels: int  # C
    cells: int
    classes: int
    size: int  # the input's side
    stem: str  # a description for the file's header


SETTINGS = {
    "cifar": Setting("NetworkCIFAR", 36, 20, 10, 32,
                     "stem conv 3x3 to 3C with BN"),
    "imagenet": Setting("NetworkImageNet", 48, 14, 1000, 224,
                        "the mobile setting's two-stage stem (conv 3x3 stride 2 to C/2, BN, "
                        "ReLU, conv 3x3 stride 2 to C, BN; then ReLU, conv 3x3 stride 2, BN), "
                        "whose two outputs feed the first cell"),
}


def evaluation_text(genotype: str, network: str = "cifar", *, channels: int | None = None,
                    cells: int | None = None, classes: int | None = None,
                    name: str = "genotype", source: str = "<genotype>") -> str:
    """The `.nas` text of `genotype`'s evaluation network: `network` "cifar" (NetworkCIFAR:
    C=36, 20 cells, 10 classes, 32x32 input) or "imagenet" (NetworkImageNet, mobile setting:
    C=48, 14 cells, 1000 classes, 224x224 input), each default replaced where given; `name`
    names the network. A genotype that is not one, or names an op `published_ops.nas` does
    not define, is a NasError located in it (`source` naming it)."""
    setting = _setting(network)
    cells = setting.cells if cells is None else cells
    if cells < len(CELLS):
        raise NasError(f"an evaluation network has at least {len(CELLS)} cells (its two "
                       f"reduction cells), not {cells}")
    if not name.isidentifier():
        raise NasError(f"the network's name must be a name (letters, digits, _), not {name!r}")
    read = read_genotype(genotype, source)
    library = [item for program in load(OPS_FILE).programs for item in program.items
               if not isinstance(item, S.Import)]
    _check_cells(read, {item.name for item in library if isinstance(item, S.OpDef)})
    channels = setting.channels if channels is None else channels
    classes = setting.classes if classes is None else classes
    program = standalone([*library,
                          *(_cell_def(read.cell(kind), kind == "reduce") for kind in CELLS),
                          _network_def(name, network, setting, cells, channels, classes)])
    header = textwrap.fill(
        f"{name} in DARTS's evaluation network {setting.network} (reference code "
        f"cnn/model.py): {setting.stem}; {cells} cells at C, 2C and 4C channels, the "
        "reduction cells at 1/3 and 2/3 of the depth; global average pooling, linear. Load "
        "it in its eval phase (as nasdsl.architecture.evaluation.evaluation_space does): the "
        "BN after the pools is search-only.", width=94, initial_indent="# ",
        subsequent_indent="# ")
    return f"{header}\n# genotype: {write_genotype(read)}\n\n{print_program(program)}"


def evaluation_space(genotype: str, network: str = "cifar", *, channels: int | None = None,
                     cells: int | None = None, classes: int | None = None,
                     name: str = "genotype", source: str = "<genotype>",
                     **load_options) -> Space:
    """The evaluation network of `genotype` (see `evaluation_text`) as a checked space,
    loaded in its eval phase unless `load_options` (as `load` takes them) say otherwise."""
    text = evaluation_text(genotype, network, channels=channels, cells=cells, classes=classes,
                           name=name, source=source)
    return load(f"<{name} {network} network>", text=text,
                **{"phase": "eval", **load_options})


def _setting(network: str) -> Setting:
    if network not in SETTINGS:
        raise NasError(f"no evaluation network '{network}'",
                       hint=did_you_mean(network, SETTINGS) or
                       f"networks: {', '.join(SETTINGS)}")
    return SETTINGS[network]


def _check_cells(genotype: Genotype, ops: set[str]) -> None:
    """The genotype has a normal and a reduction cell and nothing else, and each pair's op
    is one the ops file defines."""
    for kind in CELLS:
        if genotype.cell(kind) is None:
            raise NasCheckError(f"the genotype has no '{kind}' cell: the evaluation network "
                                "places a normal and a reduction cell", genotype.at)
    for cell in genotype.cells:
        if cell.name not in CELLS:
            raise NasCheckError(f"the genotype's cell '{cell.name}' has no place in the "
                                "evaluation network, which places 'normal' and 'reduce'",
                                cell.at)
        for pair in (pair for node in cell.nodes for pair in node):
            if pair.op not in ops:
                raise NasCheckError(f"cell '{cell.name}' has the op '{pair.op}', which "
                                    f"{OPS_FILE} does not define", pair.at,
                                    did_you_mean(pair.op, ops) or f"ops: {', '.join(sorted(ops))}")


def _cell_def(cell: GenotypeCell, reduction: bool) -> S.CellDef:
    """The cell with one fixed edge a pair, in the genotype's order (two ops from one input
    are two parallel edges), concatenating the genotype's nodes."""
    edges = [(pair.source, node, pair.op) for node, pairs in zip(cell.intermediate, cell.nodes)
             for pair in pairs]
    ops = tuple(dict.fromkeys(op for _, _, op in edges))
    every = tuple(cell.intermediate)
    body = [S.Reduction()] if reduction else []
    body += [S.Inputs(INPUTS),
             S.Preprocess((_call("relu_conv_bn", k=1),)),
             S.Preprocess((_call("factorized_reduce"),), reduced=True),
             S.Nodes(len(cell.nodes)),
             S.Edges(tuple(S.EdgeRef(src, dst) for src, dst, _ in edges)),
             S.Candidates(tuple(S.Ref(op) for op in ops)),
             *(S.EdgeOverride(S.EdgeRef(src, dst), (S.Ref(op),)) for src, dst, op in edges),
             S.Output(S.Ref("concat"), () if cell.concat == every else
                      tuple(S.Number(node) for node in cell.concat))]
    return S.CellDef(cell.name, tuple(body))


def _network_def(name: str, network: str, setting: Setting, cells: int, channels: int,
                 classes: int) -> S.NetworkDef:
    """The reference network: stem, normal cells with reduction cells at cells // 3 and
    2 * cells // 3 (0-based), head."""
    first, second = cells // 3, 2 * cells // 3
    runs = (first, second - first - 1, cells - second - 1)  # normal cells a stage
    body: list = [S.Let("C", S.Number(channels))]
    if len(set(runs)) == 1:
        body.append(S.Let("N", S.Number(runs[0])))
    body += [S.Let("classes", S.Number(classes)),
             S.Input((S.Arg("channels", S.Number(3)), S.Arg("size", S.Number(setting.size))))]
    body += _stems(network)
    count = (lambda run: S.Var("N")) if len(set(runs)) == 1 else S.Number
    for stage, run in enumerate(runs):
        width = _times(2 ** stage, S.Var("C"))
        if stage:
            body.append(S.Cells(S.Ref("reduce"), S.Number(1), width))
        if run:
            body.append(S.Cells(S.Ref("normal"), count(run), width))
    body.append(S.Head((_call("global_avg_pool"), _call("linear", out=S.Var("classes")))))
    return S.NetworkDef(name, tuple(body))


def _stems(network: str) -> list:
    """The stem, and NetworkImageNet's second stem as a layer: the first cell takes both
    outputs (the stem's at twice its resolution, factorized-reduced)."""
    if network == "cifar":
        return [S.Stem((_call("conv", kernel=3, out=_times(3, S.Var("C"))), _call("bn")))]
    half = S.BinOp("/", S.Var("C"), S.Number(2))
    return [S.Stem((_call("conv", kernel=3, stride=2, out=half), _call("bn"), _call("relu"),
                    _call("conv", kernel=3, stride=2, out=S.Var("C")), _call("bn"))),
            S.Layer((_call("relu"), _call("conv", kernel=3, stride=2), _call("bn")))]


def _times(factor: int, expr: S.Expr) -> S.Expr:
    return expr if factor == 1 else S.BinOp("*", S.Number(factor), expr)


def _call(name: str, **args) -> S.Call:
    return S.Call(name, tuple(S.Arg(key, value if isinstance(value, (S.Var, S.BinOp))
                                    else S.Number(value)) for key, value in args.items()))
