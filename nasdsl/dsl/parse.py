"""Text -> syntax tree. Syntax errors become located `NasSyntaxError`s with plain words."""

from __future__ import annotations

import math

import lark
from lark import Token, v_args

from nasdsl.dsl import syntax as S
from nasdsl.dsl.limits import MAX_DEPTH
from nasdsl.errors import Location, NasSyntaxError, did_you_mean
from nasdsl.grammar import lark_parser


def parse(text: str, file: str = "<text>") -> S.Program:
    """Parse .nas text into a `Program`; raise `NasSyntaxError` on malformed text."""
    # Only "\n" ends a line, as for the lexer: form feeds and Unicode line separators do not.
    lines = text.split("\n")
    try:
        tree = lark_parser().parse(text)
    except lark.exceptions.UnexpectedInput as error:
        raise _syntax_error(error, text, lines, file) from None
    _check_depth(tree, file, lines)
    try:
        items = _ToSyntax(file, lines).transform(tree).children
    except lark.exceptions.VisitError as error:  # lark wraps what a rule method raises
        if isinstance(error.orig_exc, NasSyntaxError):
            raise error.orig_exc from None
        raise
    return S.Program(tuple(items), file=file)


def _check_depth(tree: lark.Tree, file: str, lines: list[str]) -> None:
    """Raise a located error where the tree nests deeper than MAX_DEPTH: every later walk
    (building the syntax tree, evaluating, printing) recurses, and Python's recursion is
    bounded. The walk here keeps its own stack."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH + _STATEMENT_DEPTH:
            line, column = getattr(node.meta, "line", 1), getattr(node.meta, "column", 1)
            source = lines[line - 1] if 0 < line <= len(lines) else ""
            raise NasSyntaxError(f"an expression nests more than {MAX_DEPTH} operators or "
                                 "parentheses deep", Location(file, line, column, source),
                                 "write it flatter, or compute part of it in a `let`")
        stack += [(child, depth + 1) for child in node.children if isinstance(child, lark.Tree)]


# Levels of the tree above an expression: definition, statement, chain, call, argument.
_STATEMENT_DEPTH = 6


class _ToSyntax(lark.Transformer):
    """One method per grammar rule, each building the syntax node of that rule."""

    def __init__(self, file: str, lines: list[str]):
        super().__init__()
        self.file = file
        self.lines = lines

    def _at(self, meta_or_token) -> Location:
        line, column = meta_or_token.line, meta_or_token.column
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return Location(self.file, line, column, source)

    def _int(self, token: Token) -> int:
        try:
            return int(token)
        except ValueError:  # Python converts at most sys.get_int_max_str_digits() digits
            raise NasSyntaxError(f"a number of {len(token)} digits is too long",
                                 self._at(token)) from None

    # expressions
    def number(self, children):
        (token,) = children
        return S.Number(self._int(token), at=self._at(token))

    def real(self, children):
        (token,) = children
        value = float(token)
        if not math.isfinite(value):
            raise NasSyntaxError(f"the number {token} is too large", self._at(token))
        return S.Number(value, at=self._at(token))

    def size(self, children):
        (token,) = children
        height, width = str(token).split("x")
        if len(height) > 6 or len(width) > 6:
            raise NasSyntaxError(f"the kernel size {token} is too large", self._at(token))
        return S.Size(int(height), int(width), at=self._at(token))

    def var(self, children):
        (token,) = children
        return S.Var(str(token), at=self._at(token))

    @v_args(meta=True)
    def true(self, meta, children):
        return S.Bool(True, at=self._at(meta))

    @v_args(meta=True)
    def false(self, meta, children):
        return S.Bool(False, at=self._at(meta))

    def _binop(op):  # noqa: N805 - a factory used inside the class body
        @v_args(meta=True)
        def build(self, meta, children):
            left, right = children
            return S.BinOp(op, left, right, at=self._at(meta))
        return build

    add, sub, mul, div = _binop("+"), _binop("-"), _binop("*"), _binop("/")

    # chains
    @v_args(meta=True)
    def arg(self, meta, children):
        name, value = children
        return S.Arg(str(name), value, at=self._at(meta))

    def args(self, children):
        return tuple(child for child in children if child is not None)

    @v_args(meta=True)
    def call(self, meta, children):
        name, args = children
        return S.Call(str(name), args, at=self._at(meta))

    def chain(self, children):
        return tuple(children)

    def _group(combine):  # noqa: N805 - a factory used inside the class body
        @v_args(meta=True)
        def build(self, meta, children):
            return S.Group(combine, tuple(children), at=self._at(meta))
        return build

    sum_group, product_group, concat_group = _group("sum"), _group("product"), _group("concat")

    @v_args(meta=True)
    def param(self, meta, children):
        name, default = children
        return S.Param(str(name), default, at=self._at(meta))

    def params(self, children):
        return tuple(child for child in children if child is not None)

    # definitions
    @v_args(meta=True)
    def import_def(self, meta, children):
        (path,) = children
        return S.Import(str(path)[1:-1], at=self._at(meta))

    @v_args(meta=True)
    def chain_def(self, meta, children):
        name, params, body = children
        return S.ChainDef(str(name), params, body, at=self._at(meta))

    @v_args(meta=True)
    def op_simple(self, meta, children):
        name, body = children
        form = S.StrideForm(None, body, at=self._at(meta))
        return S.OpDef(str(name), (form,), at=self._at(meta))

    @v_args(meta=True)
    def op_by_stride(self, meta, children):
        name, *forms = children
        return S.OpDef(str(name), tuple(forms), at=self._at(meta))

    @v_args(meta=True)
    def stride_form(self, meta, children):
        stride, body = children
        return S.StrideForm(self._int(stride), body, at=self._at(meta))

    # cells
    @v_args(meta=True)
    def cell_def(self, meta, children):
        name, *body = children
        return S.CellDef(str(name), tuple(body), at=self._at(meta))

    @v_args(meta=True)
    def inputs_stmt(self, meta, children):
        return S.Inputs(self._int(children[0]), at=self._at(meta))

    @v_args(meta=True)
    def nodes_stmt(self, meta, children):
        return S.Nodes(self._int(children[0]), at=self._at(meta))

    @v_args(meta=True)
    def preprocess_stmt(self, meta, children):
        return S.Preprocess(children[0], at=self._at(meta))

    @v_args(meta=True)
    def preprocess_reduced_stmt(self, meta, children):
        return S.Preprocess(children[0], reduced=True, at=self._at(meta))

    @v_args(meta=True)
    def reduction_stmt(self, meta, children):
        return S.Reduction(at=self._at(meta))

    @v_args(meta=True)
    def edge_ref(self, meta, children):
        src, dst = children
        return S.EdgeRef(self._int(src), self._int(dst), at=self._at(meta))

    @v_args(meta=True)
    def edges_all(self, meta, children):
        return S.Edges(None, at=self._at(meta))

    @v_args(meta=True)
    def edges_list(self, meta, children):
        return S.Edges(tuple(children), at=self._at(meta))

    def name_list(self, children):
        return tuple(S.Ref(str(token), at=self._at(token)) for token in children)

    @v_args(meta=True)
    def candidates_stmt(self, meta, children):
        return S.Candidates(children[0], at=self._at(meta))

    @v_args(meta=True)
    def edge_override(self, meta, children):
        edge, ops = children
        return S.EdgeOverride(edge, ops, at=self._at(meta))

    @v_args(meta=True)
    def node_ops_stmt(self, meta, children):
        return S.NodeOps(children[0], at=self._at(meta))

    @v_args(meta=True)
    def node_override(self, meta, children):
        node, ops = children
        return S.NodeOverride(self._int(node), ops, at=self._at(meta))

    @v_args(meta=True)
    def max_edges_stmt(self, meta, children):
        return S.MaxEdges(self._int(children[0]), at=self._at(meta))

    def _rule_ref(self, token: Token) -> S.Ref:
        return S.Ref(str(token), at=self._at(token))

    @v_args(meta=True)
    def combine_stmt(self, meta, children):
        return S.Combine(self._rule_ref(children[0]), at=self._at(meta))

    @v_args(meta=True)
    def output_stmt(self, meta, children):
        rule, *nodes = children
        return S.Output(self._rule_ref(rule), tuple(S.Number(self._int(token), at=self._at(token))
                                                    for token in nodes), at=self._at(meta))

    def keep_all(self, children):
        return None

    def keep_top(self, children):
        tops = tuple(self._int(token) for token in children)
        return tops[0] if len(tops) == 1 else tops

    @v_args(meta=True)
    def derive_stmt(self, meta, children):
        top, exclude = children
        return S.Derive(top, exclude or (), at=self._at(meta))

    # network
    @v_args(meta=True)
    def network_def(self, meta, children):
        name, *body = children
        return S.NetworkDef(str(name), tuple(body), at=self._at(meta))

    @v_args(meta=True)
    def let_stmt(self, meta, children):
        name, value = children
        return S.Let(str(name), value, at=self._at(meta))

    @v_args(meta=True)
    def input_stmt(self, meta, children):
        return S.Input(children[0], at=self._at(meta))

    @v_args(meta=True)
    def search_stmt(self, meta, children):
        return S.Search(children[0], at=self._at(meta))

    @v_args(meta=True)
    def stem_stmt(self, meta, children):
        return S.Stem(children[0], at=self._at(meta))

    @v_args(meta=True)
    def cells_stmt(self, meta, children):
        cell, count, channels = children
        return S.Cells(self._rule_ref(cell), count, channels, at=self._at(meta))

    @v_args(meta=True)
    def layers_stmt(self, meta, children):
        name, count, channels, stride, residual, ops, optional = children
        return S.Layers(str(name), count, channels, stride, residual is not None, ops, optional,
                        at=self._at(meta))

    def layers_stride(self, children):
        return self._int(children[0])

    def residual(self, children):
        return True

    def optional_op(self, children):
        return self._rule_ref(children[0])

    @v_args(meta=True)
    def layer_stmt(self, meta, children):
        return S.Layer(children[0], at=self._at(meta))

    @v_args(meta=True)
    def head_stmt(self, meta, children):
        return S.Head(children[0], at=self._at(meta))


# --- syntax errors in plain words --------------------------------------------------------------

_WORDS = {"NAME": "a name", "INT": "a whole number", "REAL": "a number like 0.5", "STRING": 'a quoted path like "common.nas"',
          "$END": "end of file"}


def _describe(terminal: str) -> str:
    if terminal in _WORDS:
        return _WORDS[terminal]
    for candidate in lark_parser().terminals:
        if candidate.name == terminal:
            return f"'{candidate.pattern.value}'"
    return terminal


def _syntax_error(error: lark.exceptions.UnexpectedInput, text: str, lines: list[str],
                  file: str) -> NasSyntaxError:
    line, column = error.line, error.column
    if line is None or line < 1:  # unexpected end of input: point just past the last character
        line = len(text.rstrip("\n").split("\n"))
        column = len(lines[line - 1]) + 1
    location = Location(file, line, column, lines[line - 1] if lines else "")
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        char = text[error.pos_in_stream]
        return NasSyntaxError(f"unexpected character {char!r}", location,
                              "names are letters, digits and '_'; comments start with '#'")
    expected = sorted(_describe(t) for t in getattr(error, "expected", ()) or ())
    token = getattr(error, "token", None)
    if token is None or token.type == "$END":
        found = "end of file"
    else:
        found = f"'{token}'"
    message = f"unexpected {found}"
    if expected:
        message += f"; expected {_one_of(expected)}"
    keywords = [word.strip("'") for word in expected if word.startswith("'")]
    hint = did_you_mean(str(token), keywords) if token is not None and token.type == "NAME" else ""
    return NasSyntaxError(message, location, hint)


def _one_of(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return "one of " + ", ".join(words)
