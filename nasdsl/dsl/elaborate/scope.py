"""What every part of the elaboration shares: the settings of the load, the definitions
found, what was built and placed so far, the diagnostics, and the values of names."""

from __future__ import annotations

from nasdsl.dsl import syntax as S
from nasdsl.dsl.limits import MAX_VALUE
from nasdsl.dsl.modules import KernelSize
from nasdsl.dsl.space import LoadSettings, Op
from nasdsl.errors import Location, NasCheckError, NasError, did_you_mean


class Scope:
    """The state of one elaboration: settings, definitions, memo tables, diagnostics."""

    def __init__(self, settings: LoadSettings):
        self.settings = settings
        self.phase = settings.phase
        self.overrides = dict(settings.overrides)
        self.image = settings.image
        self.classes = settings.classes
        self.errors: list[NasError] = []
        self.warnings: list[NasError] = []
        self._seen: set[tuple] = set()
        self.chains: dict[str, S.ChainDef] = {}
        self.ops: dict[str, S.OpDef] = {}
        self.cells: dict[str, S.CellDef] = {}
        self.networks: list[S.NetworkDef] = []
        self.used: set[str] = set()
        self.placed_ops: set[tuple[str, int]] = set()  # (op, stride of the edge)
        self.failed_forms: set[tuple[str, int | None]] = set()  # (op, stride of the form)
        self.built_ops: dict[tuple, Op | None] = {}  # (op, form, stride, in, out) -> its Op
        self.broken_cells: set[str] = set()
        self.failed_chains: set[tuple] = set()  # chain calls, with what reached them, that failed
        self.search_settings: dict[str, dict[str, object]] = {}  # kind -> attribute -> value

    # --- diagnostics and values ----------------------------------------------------------------

    def report(self, error: NasError) -> None:
        key = (error.location, error.message, error.severity)
        if key not in self._seen:  # an op placed in many cells reports its problem once
            self._seen.add(key)
            (self.warnings if error.severity == "warning" else self.errors).append(error)

    def error(self, message: str, at: Location | None, hint: str = "") -> None:
        self.report(NasCheckError(message, at, hint))

    def warning(self, message: str, at: Location | None, hint: str = "") -> None:
        self.report(NasCheckError(message, at, hint, severity="warning"))

    def evaluate(self, expr: S.Expr, env: dict[str, int | float | bool]):
        """The value of an expression, or None after reporting why it has none."""
        if isinstance(expr, S.Bool):
            return expr.value
        if isinstance(expr, S.Number):
            return self.bounded(expr.value, expr)
        if isinstance(expr, S.Size):
            return KernelSize(expr.height, expr.width)
        if isinstance(expr, S.Var):
            if expr.name in env:
                return env[expr.name]
            self.error(f"unknown name '{expr.name}'", expr.at,
                       did_you_mean(expr.name, env) or names_hint(env))
            return None
        left, right = self.evaluate(expr.left, env), self.evaluate(expr.right, env)
        if left is None or right is None:
            return None
        if isinstance(left, bool) or isinstance(right, bool):
            self.error(f"'{expr.op}' needs numbers, not true or false", expr.at)
            return None
        if isinstance(left, KernelSize) or isinstance(right, KernelSize):
            self.error(f"'{expr.op}' needs numbers, not a kernel size", expr.at,
                       "write the size out, e.g. 1x7")
            return None
        if expr.op == "/":
            if right == 0:
                self.error(f"{left} / 0: division by zero", expr.at)
                return None
            if isinstance(left, float) or isinstance(right, float):
                return self.bounded(left / right, expr)
            if left % right:
                self.error(f"{left} / {right} is not a whole number", expr.at)
                return None
            return left // right
        return self.bounded({"+": left + right, "-": left - right, "*": left * right}[expr.op],
                            expr)

    def bounded(self, value: int | float, expr: S.Expr) -> int | float | None:
        """No size, channel count or repeat in a network comes near 10^12; larger values are
        mistakes (and would be slow to print)."""
        if abs(value) > MAX_VALUE:
            self.error("value too large: numbers in a space stay below 10^12", expr.at)
            return None
        return value


def is_whole(value) -> bool:
    """Whether a value is a whole number (not a real, not true or false)."""
    return isinstance(value, int) and not isinstance(value, bool)


def show_value(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def keyword_of(stmt) -> str:
    if isinstance(stmt, S.Preprocess):
        return "preprocess_reduced" if stmt.reduced else "preprocess"
    return {S.NodeOps: "node_ops", S.MaxEdges: "max_edges"}.get(type(stmt),
                                                                type(stmt).__name__.lower())


def names_hint(names, what: str = "names") -> str:
    listed = sorted(names)
    if not listed:
        return ""
    shown = ", ".join(listed[:12]) + (", ..." if len(listed) > 12 else "")
    return f"known {what}: {shown}"

