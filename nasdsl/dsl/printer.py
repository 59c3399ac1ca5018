"""Syntax tree -> canonical .nas text. Parsing the output gives back an equal tree."""

from __future__ import annotations

from nasdsl.dsl import syntax as S

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_INDENT = "    "


def print_program(program: S.Program) -> str:
    """Canonical text of a whole file: one definition per paragraph."""
    return "\n\n".join(_Printer().item(item) for item in program.items) + "\n"


class _Printer:
    """One method per node kind, dispatched on the node's class name."""

    def item(self, node) -> str:
        return getattr(self, type(node).__name__)(node)

    # expressions
    def expr(self, node: S.Expr, parent_precedence: int = 0, right: bool = False) -> str:
        if isinstance(node, S.Number):
            return str(node.value)
        if isinstance(node, S.Size):
            return f"{node.height}x{node.width}"
        if isinstance(node, S.Bool):
            return "true" if node.value else "false"
        if isinstance(node, S.Var):
            return node.name
        precedence = _PRECEDENCE[node.op]
        text = (f"{self.expr(node.left, precedence)} {node.op} "
                f"{self.expr(node.right, precedence, right=True)}")
        # Left-associative: a right operand of equal precedence needs parentheses.
        needs_parens = precedence < parent_precedence or (right and precedence == parent_precedence)
        return f"({text})" if needs_parens else text

    def args(self, args: tuple[S.Arg, ...]) -> str:
        if not args:
            return ""
        return "(" + ", ".join(f"{arg.name}={self.expr(arg.value)}" for arg in args) + ")"

    def call(self, node: S.Call) -> str:
        return node.name + self.args(node.args)

    def chain(self, body: tuple[S.Step, ...]) -> str:
        return " -> ".join(self.group(step) if isinstance(step, S.Group) else self.call(step)
                           for step in body)

    def group(self, node: S.Group) -> str:
        sign = f" {S.COMBINE_SIGNS[node.combine]} "
        return "(" + sign.join(self.chain(branch) for branch in node.branches) + ")"

    def names(self, refs: tuple[S.Ref, ...]) -> str:
        return ", ".join(ref.name for ref in refs)

    def block(self, head: str, lines: list[str]) -> str:
        return head + " {\n" + "".join(f"{_INDENT}{line}\n" for line in lines) + "}"

    # definitions
    def Import(self, node: S.Import) -> str:
        return f'import "{node.path}"'

    def ChainDef(self, node: S.ChainDef) -> str:
        params = ", ".join(p.name + (f"={self.expr(p.default)}" if p.default is not None else "")
                           for p in node.params)
        params = f"({params})" if node.params else ""
        return f"chain {node.name}{params} = {self.chain(node.body)}"

    def OpDef(self, node: S.OpDef) -> str:
        if len(node.forms) == 1 and node.forms[0].stride is None:
            return f"op {node.name} = {self.chain(node.forms[0].body)}"
        forms = [f"stride {form.stride}: {self.chain(form.body)}" for form in node.forms]
        return self.block(f"op {node.name}", forms)

    def CellDef(self, node: S.CellDef) -> str:
        return self.block(f"cell {node.name}", [self.item(stmt) for stmt in node.body])

    def NetworkDef(self, node: S.NetworkDef) -> str:
        return self.block(f"network {node.name}", [self.item(stmt) for stmt in node.body])

    # cell statements
    def Inputs(self, node: S.Inputs) -> str:
        return f"inputs {node.count}"

    def Nodes(self, node: S.Nodes) -> str:
        return f"nodes {node.count}"

    def Preprocess(self, node: S.Preprocess) -> str:
        keyword = "preprocess_reduced" if node.reduced else "preprocess"
        return f"{keyword} {self.chain(node.body)}"

    def Reduction(self, node: S.Reduction) -> str:
        return "reduction"

    def edge(self, node: S.EdgeRef) -> str:
        return f"{node.src} -> {node.dst}"

    def Edges(self, node: S.Edges) -> str:
        if node.edges is None:
            return "edges all"
        return "edges " + ", ".join(self.edge(edge) for edge in node.edges)

    def Candidates(self, node: S.Candidates) -> str:
        return f"candidates {self.names(node.ops)}"

    def EdgeOverride(self, node: S.EdgeOverride) -> str:
        return f"edge {self.edge(node.edge)}: {self.names(node.ops)}"

    def NodeOps(self, node: S.NodeOps) -> str:
        return f"node_ops {self.names(node.ops)}"

    def NodeOverride(self, node: S.NodeOverride) -> str:
        return f"node {node.node}: {self.names(node.ops)}"

    def MaxEdges(self, node: S.MaxEdges) -> str:
        return f"max_edges {node.count}"

    def Combine(self, node: S.Combine) -> str:
        return f"combine {node.rule.name}"

    def Output(self, node: S.Output) -> str:
        nodes = ", ".join(str(number.value) for number in node.nodes)
        return f"output {node.rule.name}" + (f" {nodes}" if nodes else "")

    def Derive(self, node: S.Derive) -> str:
        tops = (node.top,) if isinstance(node.top, int) else node.top
        keep = "all" if node.top is None else "top " + ", ".join(map(str, tops))
        exclude = f" exclude {self.names(node.exclude)}" if node.exclude else ""
        return f"derive {keep}{exclude}"

    # network statements
    def Let(self, node: S.Let) -> str:
        return f"let {node.name} = {self.expr(node.value)}"

    def Input(self, node: S.Input) -> str:
        return f"input{self.args(node.args)}"

    def Search(self, node: S.Search) -> str:
        return f"search {self.call(node.call)}"

    def Stem(self, node: S.Stem) -> str:
        return f"stem {self.chain(node.body)}"

    def Cells(self, node: S.Cells) -> str:
        return (f"cells {node.cell.name} * {self.expr(node.count)} "
                f"channels {self.expr(node.channels)}")

    def Layers(self, node: S.Layers) -> str:
        stride = f" stride {node.stride}" if node.stride is not None else ""
        residual = " residual" if node.residual else ""
        optional = f" or {node.optional.name}" if node.optional is not None else ""
        return (f"layers {node.name} * {self.expr(node.count)} channels "
                f"{self.expr(node.channels)}{stride}{residual}: {self.names(node.ops)}{optional}")

    def Layer(self, node: S.Layer) -> str:
        return f"layer {self.chain(node.body)}"

    def Head(self, node: S.Head) -> str:
        return f"head {self.chain(node.body)}"
