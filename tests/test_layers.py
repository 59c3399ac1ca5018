"""The package's layering: no import cycle, lower layers never import the methods or the
search, and methods see the supernet only through the contract."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nasdsl"
# What a method may use of a supernet: its views, its parameter lists, calling it.
CONTRACT = {"views", "arch_parameters", "weight_parameters", "parameters", "named_parameters",
            "zero_grad", "train", "eval", "training"}
# The modules of the torch backend a method may import: the contract and the supernet's type
# and build options.
METHOD_IMPORTS = {"nasdsl.backends.torch.contract", "nasdsl.backends.torch.network"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported(node: ast.AST) -> list[str]:
    """The nasdsl modules an import statement names (`from a import b`: a.b where b is a
    module, else a)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.startswith("nasdsl")]
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nasdsl"):
        return [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES
                else node.module for alias in node.names]
    return []


def imports(name: str, top_level: bool) -> set[str]:
    tree = ast.parse(MODULES[name].read_text())
    nodes = tree.body if top_level else ast.walk(tree)
    return {module for node in nodes for module in imported(node)}


def test_the_import_graph_has_no_cycle():
    """Module-level imports between nasdsl's modules form no cycle (a cycle makes import
    order matter and layers blur)."""
    graph = {name: imports(name, top_level=True) & set(MODULES) for name in MODULES}
    state: dict[str, str] = {}

    def visit(name, path):
        state[name] = "open"
        for target in sorted(graph[name]):
            assert state.get(target) != "open", " -> ".join([*path, name, target])
            if target not in state:
                visit(target, [*path, name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_lower_layers_never_import_methods_or_the_search():
    """The language, the simplifier, the architecture code, the backends and the data know
    no method and no search loop; the methods know no search loop; the language knows
    neither the simplifier nor the architecture code (anywhere in a module, imports inside
    functions too)."""
    lower = ("nasdsl.dsl", "nasdsl.simplify", "nasdsl.architecture", "nasdsl.backends",
             "nasdsl.data", "nasdsl.errors", "nasdsl.files", "nasdsl.arguments")
    for name in MODULES:
        targets = imports(name, top_level=False)
        if name.startswith(lower):
            assert not {t for t in targets if t.startswith(("nasdsl.methods", "nasdsl.search",
                                                            "nasdsl.bench", "nasdsl.cli"))}, name
        if name.startswith("nasdsl.methods"):
            assert not {t for t in targets if t.startswith("nasdsl.search")}, name
        if name.startswith("nasdsl.dsl"):  # the language knows nothing of what uses it
            assert not {t for t in targets if t.startswith(("nasdsl.simplify",
                                                            "nasdsl.architecture"))}, name


def test_methods_use_only_the_contract_of_the_supernet():
    """No module under methods/ reads a supernet attribute outside the contract (`net.X` for
    a parameter called net) nor imports backend modules besides the contract and the
    network's types."""
    for name, path in MODULES.items():
        if not name.startswith("nasdsl.methods"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "net":
                assert node.attr in CONTRACT, f"{name}:{node.lineno}: net.{node.attr}"
        backend = {t for t in imports(name, top_level=False) if t.startswith("nasdsl.backends")}
        assert backend <= METHOD_IMPORTS, (name, backend - METHOD_IMPORTS)
