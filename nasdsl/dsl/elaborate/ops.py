"""Ops: their stride forms checked, and each placed at an edge's stride and channels."""

from __future__ import annotations

from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate.chains import ChainExpander
from nasdsl.dsl.elaborate.scope import Scope
from nasdsl.dsl.modules import KernelSize, shown_stride
from nasdsl.dsl.space import Op

NOMINAL_CHANNELS = 16  # channels at which an op no cell uses is checked


class OpPlacer:
    """Builds an op where an edge puts it, once per (op, form, stride, channels)."""

    def __init__(self, scope: Scope, expander: ChainExpander):
        self.scope = scope
        self.error = scope.error
        self.expander = expander

    def check_forms(self, op: S.OpDef) -> None:
        seen = set()
        for form in op.forms:
            if form.stride is not None and form.stride not in (1, 2):
                self.error(f"op '{op.name}' has a form for stride {form.stride}; strides are 1 "
                           "or 2", form.at)
            elif form.stride in seen:
                self.error(f"op '{op.name}' has two forms for stride {form.stride}", form.at)
            seen.add(form.stride)

    def check_unplaced(self, op: S.OpDef) -> None:
        # Each form is checked at nominal channels only where no edge placed it: a channel
        # count that suits every cell using the op (groups=3 at 24 channels) need not suit
        # the nominal one, and a form for any stride placed at one stride is checked (an op
        # only strided layers use, factorized_reduce, need not work at stride 1).
        placed = {stride for name, stride in self.scope.placed_ops if name == op.name}
        for form in op.forms:
            if form.stride is None and not placed:
                self.place_op(op, 1, NOMINAL_CHANNELS, op.at)
            elif form.stride in (1, 2) and form.stride not in placed:
                self.place_op(op, form.stride, NOMINAL_CHANNELS, op.at)

    def place_op(self, op: S.OpDef, stride: int, channels: int, use_at,
                 out: int | None = None, place: str = "its layer") -> Op | None:
        """The op as it runs on an edge of this stride taking in `channels` and giving `out`
        (None: the same) at `place` (for messages), or None if it cannot."""
        out = channels if out is None else out
        forms: dict[int | None, S.StrideForm] = {}
        for form in op.forms:
            forms.setdefault(form.stride, form)  # the first counts; check_forms reports a second
        form = forms.get(stride, forms.get(None))
        if form is None:
            self.error(f"op '{op.name}' has no form for stride {stride}", use_at,
                       f"add 'stride {stride}: ...' to op '{op.name}' at {op.at}")
            return None
        self.scope.placed_ops.add((op.name, stride))
        key = (op.name, form.stride)
        if key in self.scope.failed_forms:
            return None  # reported where it first failed, not again at every channel count
        # An op placed again at the same stride and widths is the same chain of (interned)
        # modules: built once, whatever the number of cells and edges.
        built = (op.name, form.stride, stride, channels, out)
        if built not in self.scope.built_ops:
            self.scope.built_ops[built] = self.build_op(op, form, stride, channels, out, place)
        placed = self.scope.built_ops[built]
        if placed is None:
            self.scope.failed_forms.add(key)
        return placed

    def build_op(self, op: S.OpDef, form: S.StrideForm, stride: int, channels: int,
                 out: int, place: str) -> Op | None:
        """The op's chain at an edge of `stride`. The rule: an op whose chain writes no
        `stride=` gives the edge's stride to its first module that can stride (a conv, a pool,
        a zero); an op that writes one strides as written, and its strides must multiply to
        the edge's on each axis (a conv may stride one axis: 1x2 then 2x1)."""
        state = self.expander.chain_state(channels, out, in_cell=True)
        if not self.expander.expand(form.body, {}, state):
            return None
        written = state.written_strides
        if stride > 1 and not written:
            state = self.expander.chain_state(channels, out, in_cell=True, stride=stride)
            self.expander.expand(form.body, {}, state)
        done = shown_stride(state.stride_done)
        if state.stride_done != KernelSize(stride) and written:
            self.error(f"op '{op.name}' writes its strides and they make {done}, but "
                       f"its edge has stride {stride}", written[0],
                       f"an op that writes `stride=` strides as written: make its strides "
                       f"multiply to {stride}, leave them out (the first conv, pool or zero then "
                       f"takes the edge's stride), or give the op a 'stride {stride}:' form")
            return None
        if state.stride_done != KernelSize(stride):
            self.error(f"op '{op.name}' has stride {done} but its edge has stride "
                       f"{stride}", form.at,
                       "an edge's stride goes to the op's first conv, pool or zero; give the op "
                       f"a 'stride {stride}:' form")
            return None
        produced = state.placement.channels
        if produced != out:
            self.error(f"op '{op.name}' turns {channels} channels into {produced}; " +
                       ("an edge keeps the channels of its cell" if out == channels else
                        f"{place} needs {out}"), form.at)
            return None
        return Op(op.name, tuple(state.modules))

