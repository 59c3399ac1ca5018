"""DARTS genotype strings, read into cells of (op, input) pairs and written back.

A genotype is the Python text of the DARTS reference code's namedtuple, `Genotype(normal=[
('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[...])`,
or the form nasdsl writes for cells of other names, `Genotype(cells={'kind': [...]},
concat={'kind': [...]})` (`derive.to_genotype`). It is read with `ast`, never evaluated, so
every mistake is a NasError at its line and column in the text.

In a cell, nodes 0 and 1 are the outputs of the two previous cells and nodes 2, 3, ... its
intermediate nodes. Its list of (op, input) pairs gives each intermediate node two, in
order (`[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...]`: node 2 takes the first two); a list
of lists gives each node its own (`[[('sep_conv_3x3', 0)], [...], ...]`, as nasdsl writes a
cell whose nodes keep other numbers of inputs). Its concat lists the nodes the cell's output
concatenates, in order (`range(2, 6)` as PC-DARTS writes it, or a list).
"""

from __future__ import annotations

import ast

import attrs

from nasdsl.dsl.limits import MAX_FILE_BYTES
from nasdsl.errors import Location, NasCheckError, NasSyntaxError, did_you_mean

INPUTS = 2  # nodes 0 and 1: the two previous cells' outputs
PAIRS_A_NODE = 2  # in a flat list, as DARTS derives them
DARTS_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")  # the namedtuple's order
KIND_FIELDS = ("cells", "concat")
HINT = ("a genotype reads Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], "
        "reduce=[...], reduce_concat=[...])")

_located = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class Pair:
    """One input of a node: the op applied to the output of node `source`."""

    op: str
    source: int
    at: Location | None = _located


@attrs.frozen
class GenotypeCell:
    """One cell: per intermediate node (2, 3, ...) its pairs, and the nodes it concatenates."""

    name: str
    nodes: tuple[tuple[Pair, ...], ...]
    concat: tuple[int, ...]
    at: Location | None = _located

    @property
    def intermediate(self) -> range:
        return range(INPUTS, INPUTS + len(self.nodes))


@attrs.frozen
class Genotype:
    cells: tuple[GenotypeCell, ...]
    at: Location | None = _located

    def cell(self, name: str) -> GenotypeCell | None:
        return next((cell for cell in self.cells if cell.name == name), None)


def read_genotype(text: str, source: str = "<genotype>") -> Genotype:
    """The genotype `text` says; a NasError located in it (`source` naming the text) where
    it is not one."""
    return _Reader(text, source).genotype()


def write_genotype(genotype: Genotype) -> str:
    """The genotype as DARTS writes it where its cells are `normal` and `reduce`, else keyed
    by cell; each cell's pairs flat where every node has two, else one list a node."""
    names = [cell.name for cell in genotype.cells]
    if set(names) <= {"normal", "reduce"}:
        return "Genotype(" + ", ".join(
            f"{cell.name}={_pairs(cell)}, {cell.name}_concat={list(cell.concat)}"
            for cell in genotype.cells) + ")"
    cells = ", ".join(f"{cell.name!r}: {_pairs(cell)}" for cell in genotype.cells)
    concats = ", ".join(f"{cell.name!r}: {list(cell.concat)}" for cell in genotype.cells)
    return f"Genotype(cells={{{cells}}}, concat={{{concats}}})"


def _pairs(cell: GenotypeCell) -> str:
    def pair(p: Pair) -> str:
        return f"({p.op!r}, {p.source})"
    if all(len(node) == PAIRS_A_NODE for node in cell.nodes):
        return "[" + ", ".join(pair(p) for node in cell.nodes for p in node) + "]"
    return "[" + ", ".join("[" + ", ".join(map(pair, node)) + "]" for node in cell.nodes) + "]"


class _Reader:
    """Walks the syntax tree of one genotype text, saying where each mistake is."""

    def __init__(self, text: str, source: str):
        self.text, self.source = text, source
        self.lines = text.split("\n")
        # The text is parsed stripped (an expression may not start indented): positions
        # in it are shifted back to the text's.
        lead = text[:len(text) - len(text.lstrip())]
        self.line_shift = lead.count("\n")
        self.column_shift = len(lead) - (lead.rfind("\n") + 1)

    def genotype(self) -> Genotype:
        if len(self.text.encode("utf-8", errors="replace")) > MAX_FILE_BYTES:
            raise NasCheckError(f"the genotype is larger than {MAX_FILE_BYTES // 2**20} MiB",
                                self.location(1, 1), HINT)
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as error:
            raise NasSyntaxError(f"not a DARTS genotype: {error.msg}",
                                 self.location(error.lineno or 1, error.offset or 1),
                                 HINT) from None
        except (RecursionError, MemoryError, ValueError):  # nested too deep, or a NUL byte
            raise NasSyntaxError("not a DARTS genotype: Python cannot read the text",
                                 self.location(1, 1), HINT) from None
        call = tree.body
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == "Genotype"):
            raise NasCheckError("a genotype is a call of Genotype(...)", self.at(call), HINT)
        fields = self.fields(call)
        if "cells" in fields or "concat" in fields:
            return self.by_kind(call, fields)
        cells = []
        for name in ("normal", "reduce"):
            pairs, concat = fields.get(name), fields.get(f"{name}_concat")
            if (pairs is None) != (concat is None):
                given, missing = (name, f"{name}_concat") if concat is None else \
                    (f"{name}_concat", name)
                raise NasCheckError(f"the genotype gives '{given}' but not '{missing}'",
                                    self.at(call), HINT)
            if pairs is not None:
                cells.append(self.cell(name, pairs, concat))
        if not cells:
            raise NasCheckError("the genotype has no cell", self.at(call), HINT)
        return Genotype(tuple(cells), self.at(call))

    def fields(self, call: ast.Call) -> dict[str, ast.expr]:
        """The call's arguments by field: positional ones in the namedtuple's order."""
        fields: dict[str, ast.expr] = {}
        if len(call.args) > len(DARTS_FIELDS):
            raise NasCheckError(f"Genotype takes at most {len(DARTS_FIELDS)} fields",
                                self.at(call.args[len(DARTS_FIELDS)]), HINT)
        for name, value in zip(DARTS_FIELDS, call.args):
            if isinstance(value, ast.Starred):
                raise NasCheckError("a genotype's fields are written out", self.at(value), HINT)
            fields[name] = value
        known = DARTS_FIELDS + KIND_FIELDS
        for keyword in call.keywords:
            if keyword.arg is None:
                raise NasCheckError("a genotype's fields are written out", self.at(keyword),
                                    HINT)
            if keyword.arg not in known:
                raise NasCheckError(f"Genotype has no field '{keyword.arg}'", self.at(keyword),
                                    did_you_mean(keyword.arg, known) or
                                    f"fields: {', '.join(known)}")
            if keyword.arg in fields:
                raise NasCheckError(f"the genotype gives '{keyword.arg}' twice",
                                    self.at(keyword))
            fields[keyword.arg] = keyword.value
        mixed = set(fields) & set(DARTS_FIELDS) and set(fields) & set(KIND_FIELDS)
        if mixed:
            raise NasCheckError("a genotype names its cells either normal and reduce or in "
                                "'cells' and 'concat', not both", self.at(call), HINT)
        return fields

    def by_kind(self, call: ast.Call, fields: dict[str, ast.expr]) -> Genotype:
        """`Genotype(cells={'a': [...]}, concat={'a': [...]})`: cells keyed by name."""
        tables = {}
        for field in KIND_FIELDS:
            value = fields.get(field)
            if value is None:
                raise NasCheckError(f"the genotype has no '{field}'", self.at(call),
                                    "Genotype(cells={'kind': [...]}, concat={'kind': [...]})")
            if not isinstance(value, ast.Dict) or None in value.keys:
                raise NasCheckError(f"'{field}' is a dict from cell names to "
                                    f"{'pairs' if field == 'cells' else 'node lists'}",
                                    self.at(value))
            tables[field] = {self.name(key): (key, item) for key, item in
                             zip(value.keys, value.values)}
        cells = []
        for name, (_, pairs) in tables["cells"].items():
            if name not in tables["concat"]:
                raise NasCheckError(f"'concat' has no entry for cell '{name}'",
                                    self.at(fields["concat"]))
            cells.append(self.cell(name, pairs, tables["concat"][name][1]))
        for name, (key, _) in tables["concat"].items():
            if name not in tables["cells"]:
                raise NasCheckError(f"'concat' names cell '{name}', which 'cells' does not have",
                                    self.at(key))
        if not cells:
            raise NasCheckError("the genotype has no cell", self.at(call), HINT)
        return Genotype(tuple(cells), self.at(call))

    def name(self, key: ast.expr) -> str:
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)
                and key.value.isidentifier()):
            raise NasCheckError("a cell's name is a quoted name, like 'normal'", self.at(key))
        return key.value

    def cell(self, name: str, pairs: ast.expr, concat: ast.expr) -> GenotypeCell:
        if not isinstance(pairs, (ast.List, ast.Tuple)) or not pairs.elts:
            raise NasCheckError(f"cell '{name}' is a list of (op, input) pairs",
                                self.at(pairs), HINT)
        if all(isinstance(item, (ast.List, ast.Tuple)) and item.elts
               and all(isinstance(inner, (ast.List, ast.Tuple)) for inner in item.elts)
               for item in pairs.elts):
            groups = [item.elts for item in pairs.elts]  # a list of pairs per node
        elif len(pairs.elts) % PAIRS_A_NODE:
            count = len(pairs.elts)
            raise NasCheckError(f"cell '{name}' has {count} (op, input) pair{'s' * (count > 1)}: "
                                f"a flat list gives each node {PAIRS_A_NODE}, so its length is "
                                "even",
                                self.at(pairs), "or give each node a list of its own pairs")
        else:
            groups = [pairs.elts[start:start + PAIRS_A_NODE]
                      for start in range(0, len(pairs.elts), PAIRS_A_NODE)]
        nodes = tuple(tuple(self.pair(name, node, item) for item in group)
                      for node, group in enumerate(groups, start=INPUTS))
        return GenotypeCell(name, nodes, self.concat(name, concat, len(nodes)), self.at(pairs))

    def pair(self, cell: str, node: int, item: ast.expr) -> Pair:
        if not (isinstance(item, ast.Tuple) and len(item.elts) == 2
                and isinstance(item.elts[0], ast.Constant) and isinstance(item.elts[0].value, str)
                and _is_int(item.elts[1])):
            raise NasCheckError(f"expected an (op, input) pair of cell '{cell}', like "
                                "('sep_conv_3x3', 0)", self.at(item))
        op, source = item.elts[0].value, item.elts[1].value
        if not 0 <= source < node:
            raise NasCheckError(f"node {node} of cell '{cell}' takes input {source}, which is not "
                                f"an earlier node (0..{node - 1})", self.at(item.elts[1]),
                                "nodes 0 and 1 are the two previous cells' outputs, 2 and on "
                                "the cell's nodes in the order the genotype lists them")
        return Pair(op, source, self.at(item))

    def concat(self, cell: str, value: ast.expr, nodes: int) -> tuple[int, ...]:
        """A concat list: a list or tuple of whole numbers, or range(start, stop)."""
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
                and value.func.id == "range" and not value.keywords \
                and 1 <= len(value.args) <= 2 and all(_is_int(arg) for arg in value.args):
            items = [(number, value) for number in range(*(arg.value for arg in value.args))]
        elif isinstance(value, (ast.List, ast.Tuple)) and all(_is_int(item)
                                                              for item in value.elts):
            items = [(item.value, item) for item in value.elts]
        else:
            raise NasCheckError(f"the concat of cell '{cell}' is a list of node numbers, or "
                                "range(start, stop)", self.at(value))
        if not items:
            raise NasCheckError(f"the concat of cell '{cell}' lists no node", self.at(value))
        listed: list[int] = []
        for number, where in items:
            if not INPUTS <= number < INPUTS + nodes:
                raise NasCheckError(f"the concat of cell '{cell}' lists node {number}, which is "
                                    f"not one of its nodes ({INPUTS}..{INPUTS + nodes - 1})",
                                    self.at(where))
            if number in listed:
                raise NasCheckError(f"the concat of cell '{cell}' lists node {number} twice",
                                    self.at(where))
            listed.append(number)
        return tuple(listed)

    def at(self, node: ast.AST) -> Location:
        """Where a node of the tree is in the text (the tree counts columns in UTF-8 bytes
        of the stripped text)."""
        shift = self.column_shift if node.lineno == 1 else 0
        line = self.lines[node.lineno - 1 + self.line_shift]
        column = len(line[shift:].encode("utf-8")[:node.col_offset].decode(
            "utf-8", errors="ignore"))
        return self.location(node.lineno, column + 1)

    def location(self, line: int, column: int) -> Location:
        """The text's Location of a line and column (in characters) of the stripped text."""
        number = line + self.line_shift
        if line == 1:
            column += self.column_shift
        text = self.lines[number - 1] if number - 1 < len(self.lines) else ""
        return Location(self.source, number, column, text)


def _is_int(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int
