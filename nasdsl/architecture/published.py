"""Published CNN cells by name, and their evaluation networks.

Each genotype is the one its authors' reference code publishes, in its genotypes.py:
  NASNet     NASNet-A (Zoph et al., CVPR 2018), as the DARTS reference code
             (github.com/quark0/darts, cnn/genotypes.py) writes it: 5 nodes a cell, two
             ops from one input, sep_conv_7x7 in the reduction cell
  AmoebaNet  AmoebaNet-A (Real et al., AAAI 2019), from the same file: conv_7x1_1x7 and
             sep_conv_7x7 in the reduction cell
  DARTS_V1   DARTS first order (Liu, Simonyan & Yang, ICLR 2019), from the same file
  DARTS_V2   DARTS second order, from the same file (its DARTS)
  PC_DARTS   PC-DARTS's CIFAR-10 cell (Xu et al., ICLR 2020), PC_DARTS_cifar in
             github.com/yuhuixu1993/PC-DARTS, genotypes.py
  PDARTS     P-DARTS (Chen et al., ICCV 2019), PDARTS in github.com/chenxin061/pdarts,
             genotypes.py
The evaluation networks are DARTS's NetworkCIFAR and NetworkImageNet for all six
(`evaluation`): PC-DARTS and P-DARTS train in copies of them.
"""

from __future__ import annotations

from nasdsl.architecture.evaluation import evaluation_space, evaluation_text
from nasdsl.dsl.space import Space
from nasdsl.errors import NasError, did_you_mean

PUBLISHED = {
    "NASNet": """Genotype(
        normal=[('sep_conv_5x5', 1), ('sep_conv_3x3', 0),
                ('sep_conv_5x5', 0), ('sep_conv_3x3', 0),
                ('avg_pool_3x3', 1), ('skip_connect', 0),
                ('avg_pool_3x3', 0), ('avg_pool_3x3', 0),
                ('sep_conv_3x3', 1), ('skip_connect', 1)],
        normal_concat=[2, 3, 4, 5, 6],
        reduce=[('sep_conv_5x5', 1), ('sep_conv_7x7', 0),
                ('max_pool_3x3', 1), ('sep_conv_7x7', 0),
                ('avg_pool_3x3', 1), ('sep_conv_5x5', 0),
                ('skip_connect', 3), ('avg_pool_3x3', 2),
                ('sep_conv_3x3', 2), ('max_pool_3x3', 1)],
        reduce_concat=[4, 5, 6])""",
    "AmoebaNet": """Genotype(
        normal=[('avg_pool_3x3', 0), ('max_pool_3x3', 1),
                ('sep_conv_3x3', 0), ('sep_conv_5x5', 2),
                ('sep_conv_3x3', 0), ('avg_pool_3x3', 3),
                ('sep_conv_3x3', 1), ('skip_connect', 1),
                ('skip_connect', 0), ('avg_pool_3x3', 1)],
        normal_concat=[4, 5, 6],
        reduce=[('avg_pool_3x3', 0), ('sep_conv_3x3', 1),
                ('max_pool_3x3', 0), ('sep_conv_7x7', 2),
                ('sep_conv_7x7', 0), ('avg_pool_3x3', 1),
                ('max_pool_3x3', 0), ('max_pool_3x3', 1),
                ('conv_7x1_1x7', 0), ('sep_conv_3x3', 5)],
        reduce_concat=[3, 4, 6])""",
    "DARTS_V1": """Genotype(
        normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0),
                ('skip_connect', 0), ('sep_conv_3x3', 1),
                ('skip_connect', 0), ('sep_conv_3x3', 1),
                ('sep_conv_3x3', 0), ('skip_connect', 2)],
        normal_concat=[2, 3, 4, 5],
        reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1),
                ('skip_connect', 2), ('max_pool_3x3', 0),
                ('max_pool_3x3', 0), ('skip_connect', 2),
                ('skip_connect', 2), ('avg_pool_3x3', 0)],
        reduce_concat=[2, 3, 4, 5])""",
    "DARTS_V2": """Genotype(
        normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1),
                ('sep_conv_3x3', 0), ('sep_conv_3x3', 1),
                ('sep_conv_3x3', 1), ('skip_connect', 0),
                ('skip_connect', 0), ('dil_conv_3x3', 2)],
        normal_concat=[2, 3, 4, 5],
        reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1),
                ('skip_connect', 2), ('max_pool_3x3', 1),
                ('max_pool_3x3', 0), ('skip_connect', 2),
                ('skip_connect', 2), ('max_pool_3x3', 1)],
        reduce_concat=[2, 3, 4, 5])""",
    "PC_DARTS": """Genotype(
        normal=[('sep_conv_3x3', 1), ('skip_connect', 0),
                ('sep_conv_3x3', 0), ('dil_conv_3x3', 1),
                ('sep_conv_5x5', 0), ('sep_conv_3x3', 1),
                ('avg_pool_3x3', 0), ('dil_conv_3x3', 1)],
        normal_concat=range(2, 6),
        reduce=[('sep_conv_5x5', 1), ('max_pool_3x3', 0),
                ('sep_conv_5x5', 1), ('sep_conv_5x5', 2),
                ('sep_conv_3x3', 0), ('sep_conv_3x3', 3),
                ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)],
        reduce_concat=range(2, 6))""",
    "PDARTS": """Genotype(
        normal=[('skip_connect', 0), ('dil_conv_3x3', 1),
                ('skip_connect', 0), ('sep_conv_3x3', 1),
                ('sep_conv_3x3', 1), ('sep_conv_3x3', 3),
                ('sep_conv_3x3', 0), ('dil_conv_5x5', 4)],
        normal_concat=range(2, 6),
        reduce=[('avg_pool_3x3', 0), ('sep_conv_5x5', 1),
                ('sep_conv_3x3', 0), ('dil_conv_5x5', 2),
                ('max_pool_3x3', 0), ('dil_conv_3x3', 1),
                ('dil_conv_3x3', 1), ('dil_conv_5x5', 3)],
        reduce_concat=range(2, 6))""",
}


def published_name(name: str) -> str:
    """The registry's spelling of a published cell's name, which may be given in any case;
    a NasError naming the closest where there is none."""
    found = {key.lower(): key for key in PUBLISHED}.get(name.lower())
    if found is None:
        raise NasError(f"no published genotype '{name}'",
                       hint=did_you_mean(name, PUBLISHED) or
                       f"published: {', '.join(PUBLISHED)}")
    return found


def published_genotype(name: str) -> str:
    """The genotype text of a published cell."""
    return PUBLISHED[published_name(name)]


def published_text(name: str, network: str = "cifar", **sizes) -> str:
    """The `.nas` text of a published cell's evaluation network (`evaluation_text`'s
    `network` and sizes: channels, cells, classes)."""
    name = published_name(name)
    return evaluation_text(PUBLISHED[name], network, name=name, source=f"<{name}>", **sizes)


def published_space(name: str, network: str = "cifar", **options) -> Space:
    """A published cell's evaluation network as a checked space, in its eval phase
    (`evaluation_space`'s options)."""
    name = published_name(name)
    return evaluation_space(PUBLISHED[name], network, name=name, source=f"<{name}>", **options)
