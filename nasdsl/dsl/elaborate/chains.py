"""Expanding chains of modules: calls of chains and module kinds, attributes, shapes and
strides, as an op's body, a stem, a layer or a head is built."""

from __future__ import annotations

import attrs

from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate.scope import Scope, is_whole, names_hint, show_value
from nasdsl.dsl.limits import MAX_CALLS, MAX_CHAIN_DEPTH, MAX_MODULES
from nasdsl.dsl.modules import (BROKEN_KINDS, KINDS, MAPS, REQUIRED, VECTORS,
                                Attr, AttributeProblem, Branches, KernelSize,
                                Placement, shown_stride)
from nasdsl.errors import Location, did_you_mean

# Any module may be marked search_only=true: it exists in the supernet, not in a derived
# network (DARTS appends a BN to pools only while searching).
SEARCH_ONLY = Attr(bool, False)
# The names a chain may use for the channels of its place (an edge, a stem, a layer, a
# head): those that enter it and those it must produce, e.g. an expansion conv(out=6 * in).
# The same throughout the place, in the chains it calls too, but that inside a group `in` is
# the channels reaching the group; a parameter or `let` of the same name hides them.
PLACE_NAMES = ("in", "out")


@attrs.define
class ChainState:
    """What flows along a chain being expanded: channels, resolution factor on each axis, the
    form of the tensor (feature maps or vectors), modules so far."""

    placement: Placement
    searching: bool = False  # inside a cell while searching: `search` settings apply
    stride_wanted: int = 1
    stride_done: KernelSize = KernelSize(1)  # (height, width): a conv may stride one axis
    form: str = MAPS
    head: bool = False  # only the head may turn feature maps into vectors
    modules: list = attrs.Factory(list)
    written_strides: list = attrs.Factory(list)  # where the chain writes `stride=`
    place: dict = attrs.Factory(dict)  # the values of PLACE_NAMES
    calls: int = 0  # calls expanded so far, those that failed too

    def names(self, env: dict) -> dict:
        """What an expression at this point may use: the place's channels, then `env`."""
        return {**self.place, **env}


class ChainExpander:
    """Turns chain bodies into modules, checking each call where it is made."""

    def __init__(self, scope: Scope):
        self.scope = scope
        self.error, self.evaluate = scope.error, scope.evaluate

    def expand(self, body: tuple[S.Step, ...], env: dict, state: ChainState,
               calling: tuple[str, ...] = ()) -> bool:
        """Append the modules of `body` to `state`; False if any call failed."""
        ok = True
        for call in body:
            state.calls += 1
            if state.calls > MAX_CALLS:
                # Failed calls add no modules, so doubling chains that fail would run on
                # under the modules' limit.
                self.error(f"this expands more than {MAX_CALLS:,} calls of chains and modules, "
                           "the limit of an op, a preprocess or a stage", call.at,
                           "a chain that calls another twice doubles at every level")
                return False
            if len(state.modules) >= MAX_MODULES:
                # Chains calling chains can double at every level: stop at the limit.
                self.error(f"this expands to more than {MAX_MODULES:,} modules, the limit of an "
                           "op, a preprocess or a stage", call.at,
                           "a chain that calls another twice doubles at every level")
                return False
            if isinstance(call, S.Group):
                ok = self.expand_group(call, env, state, calling) and ok
            elif call.name in KINDS:
                ok = self.build_module(call, env, state) and ok
            elif call.name in self.scope.chains:
                ok = self.expand_chain(call, env, state, calling) and ok
            elif call.name in BROKEN_KINDS:
                broken = BROKEN_KINDS[call.name]
                self.error(f"module '{call.name}': {broken.message}", call.at, broken.hint)
                ok = False
            else:
                if call.name in self.scope.ops:
                    hint = "ops are candidates of edges; to reuse modules, define a chain"
                else:
                    hint = did_you_mean(call.name, [*KINDS, *self.scope.chains])
                self.error(f"unknown module or chain '{call.name}'", call.at, hint)
                ok = False
        return ok

    def expand_chain(self, call: S.Call, env: dict, state: ChainState,
                     calling: tuple[str, ...]) -> bool:
        chain = self.scope.chains[call.name]
        self.scope.used.add(chain.name)
        if chain.name in calling:
            cycle = " -> ".join((*calling[calling.index(chain.name):], chain.name))
            self.error(f"chain '{chain.name}' calls itself: {cycle}", call.at)
            return False
        if len(calling) >= MAX_CHAIN_DEPTH:
            self.error(f"chain '{chain.name}' is nested more than {MAX_CHAIN_DEPTH} chains deep",
                       call.at)
            return False
        params = {param.name: param for param in chain.params}
        inner: dict[str, int | bool] = {}
        ok = True
        for arg in call.args:
            if arg.name not in params:
                self.error(f"chain '{chain.name}' has no parameter '{arg.name}'", arg.at,
                           did_you_mean(arg.name, params) or names_hint(params, "parameters"))
                ok = False
                continue
            value = self.evaluate(arg.value, state.names(env))
            ok = ok and value is not None
            inner[arg.name] = value
        for param in chain.params:
            if param.name in inner:
                continue
            if param.default is None:
                self.error(f"chain '{chain.name}' needs a value for '{param.name}'", call.at,
                           f"write {chain.name}({param.name}=...)")
                ok = False
            else:
                value = self.evaluate(param.default, state.names(inner))
                ok = ok and value is not None
                inner[param.name] = value
        if not ok:
            return False
        # A call that failed once fails again where the same values reach it, with the errors
        # reported already: chains that call a failing chain twice would double at each level.
        key = (chain.name, tuple(sorted(inner.items())), state.placement, state.form,
               state.searching, state.head, state.stride_wanted, state.stride_done,
               tuple(sorted(state.place.items())))
        if key in self.scope.failed_chains:
            return False
        if not self.expand(chain.body, inner, state, (*calling, chain.name)):
            self.scope.failed_chains.add(key)
            return False
        return True

    def expand_group(self, group: S.Group, env: dict, state: ChainState,
                     calling: tuple[str, ...]) -> bool:
        """Expand each branch from the group's input and combine them into one `Branches`
        module, once their outputs are checked to combine: the same stride, and the same
        channels and form (sum), channels (product, where vectors scale feature maps) or form
        (concatenation, which adds the channels)."""
        branches = []
        for branch in group.branches:
            # In a group, `in` is what reaches the group: an SE block after an expansion
            # reduces the expanded channels.
            inner = attrs.evolve(state, modules=[], written_strides=[],
                                 place={**state.place, "in": state.placement.channels})
            # A branch of a product may pool feature maps to vectors: they scale channels.
            inner.head = state.head or group.combine == "product"
            expanded = self.expand(branch, env, inner, calling)
            state.calls = inner.calls
            if not expanded:
                return False
            state.written_strides += inner.written_strides
            branches.append(inner)
        sign = S.COMBINE_SIGNS[group.combine]
        hint = f"each branch of (a {sign} b) starts from the group's input"
        strides = [shown_stride(KernelSize(*(done // before for done, before in zip(
            b.stride_done, state.stride_done)))) for b in branches]
        if len(set(strides)) > 1:
            self.error(f"the branches of this group stride by {_listed(strides)}: they must "
                       "stride alike", group.at,
                       "at stride 2 a residual has nothing to add to: give the op a form per "
                       "stride, op o { stride 1: (identity + f)  stride 2: f }")
            return False
        channels = [b.placement.channels for b in branches]
        forms = [b.form for b in branches]
        if group.combine != "concat" and len(set(channels)) > 1:
            self.error(f"the branches of this group give {_listed(channels)} channels: "
                       f"{group.combine} needs the same in each", group.at, hint)
            return False
        form = MAPS if MAPS in forms else VECTORS
        if group.combine != "product" and len(set(forms)) > 1:
            self.error(f"the branches of this group give {' and '.join(sorted(set(forms)))}: "
                       f"{group.combine} needs one form", group.at, hint)
            return False
        if form != state.form and not state.head:
            self.error(f"this group turns {state.form} into {form}, which only the head may "
                       "do", group.at, "multiply the pooled branch with one that keeps "
                       "feature maps: (identity * global_avg_pool -> ...)")
            return False
        c_out = sum(channels) if group.combine == "concat" else channels[0]
        module = Branches(group.combine, tuple(tuple(b.modules) for b in branches),
                          state.placement.channels, c_out)
        state.modules.append(module)
        state.stride_done = branches[0].stride_done
        state.form = form
        state.placement = attrs.evolve(state.placement, channels=c_out)
        return True

    def build_module(self, call: S.Call, env: dict, state: ChainState) -> bool:
        kind = KINDS[call.name]
        if not self.shape_fits(kind, call, state):
            return False
        checked = self.given_attributes(kind, call, state.names(env))
        if checked is None:
            return False
        given, where = checked
        if "stride" in given:
            state.written_strides.append(where["stride"])
        if given.pop("search_only", False) and self.scope.phase != "search":
            return True
        values = {name: given[name] if name in given else self.default(kind, name, state)
                  for name in kind.attributes}
        # The stride of an op's place goes to its first module that can take one.
        done = state.stride_done
        if (kind.stride_capable and "stride" not in given and done.square
                and done[0] < state.stride_wanted):
            values["stride"] = state.stride_wanted // done[0]
        try:
            module = kind.build(values, state.placement)
        except AttributeProblem as problem:
            self.error(f"{kind.kind}: {problem.message}",
                       where.get(problem.attribute, call.at))
            return False
        state.modules.append(module)
        state.stride_done = KernelSize(*(so_far * step for so_far, step in
                                         zip(state.stride_done, module.strides)))
        state.placement = attrs.evolve(state.placement,
                                       channels=module.out_channels(state.placement.channels))
        return True

    def shape_fits(self, kind, call: S.Call, state: ChainState) -> bool:
        """Whether the module takes the form of tensor that reaches it (feature maps or
        vectors), and may give the form it gives there: turning feature maps into vectors
        is the head's alone, since ops, preprocessing, the stem and layers feed cells."""
        if state.form not in kind.accepts:
            hint = "put global_avg_pool before it" if state.form == MAPS else \
                "global_avg_pool made vectors of the feature maps; after it come only " \
                f"modules that take vectors ({', '.join(_taking(VECTORS))})"
            self.error(f"{kind.kind} works on {' or '.join(kind.accepts)}, but here it gets "
                       f"{state.form}", call.at, hint)
            return False
        produced = kind.produces or state.form
        if produced != state.form and not state.head:
            self.error(f"{kind.kind} turns {state.form} into {produced}, which only the head "
                       "may do", call.at,
                       "an op, a preprocess, the stem and a layer keep feature maps for the "
                       "cells after them")
            return False
        state.form = produced
        return True

    def default(self, kind, name: str, state: ChainState):
        attr = kind.attributes[name]
        if state.searching:
            for owner in (kind.kind, attr.follows):
                if name in self.scope.search_settings.get(owner, {}):
                    return self.scope.search_settings[owner][name]
        return attr.default(state.placement) if callable(attr.default) else attr.default

    def given_attributes(self, kind, call: S.Call, env: dict, required: bool = True):
        """The attributes a call gives, checked: (values, locations), or None after errors."""
        given: dict[str, object] = {}
        where: dict[str, Location | None] = {}
        ok = True
        for arg in call.args:
            attr = kind.attributes.get(arg.name, SEARCH_ONLY if arg.name == "search_only" else None)
            if attr is None:
                known = [*kind.attributes, "search_only"]
                self.error(f"{kind.kind} has no attribute '{arg.name}'", arg.at,
                           did_you_mean(arg.name, known) or names_hint(known, "attributes"))
                ok = False
                continue
            if arg.name in given:
                self.error(f"attribute '{arg.name}' is given twice", arg.at)
                ok = False
                continue
            value = self.evaluate(arg.value, env)
            where[arg.name] = arg.at
            if value is None:
                ok = False
            elif not _of_type(value, attr.type):
                wanted = {bool: "true or false", int: "a whole number", float: "a number",
                          KernelSize: "a whole number or a size like 1x7"}
                self.error(f"{kind.kind} attribute '{arg.name}' must be {wanted[attr.type]}, "
                           f"not {show_value(value)}", arg.at)
                ok = False
                value = None
            elif attr.check and (problem := attr.check(attr.type(value))):
                self.error(f"{kind.kind} attribute '{arg.name}' {problem}, not {value}", arg.at)
                ok = False
            given[arg.name] = value if value is None else attr.type(value)
        for name, attr in kind.attributes.items():
            if required and name not in given and attr.default is REQUIRED:
                self.error(f"{kind.kind} needs the attribute '{name}'", call.at,
                           f"write {kind.kind}({name}=...)")
                ok = False
        return (given, where) if ok else None

    def chain_state(self, channels: int, target: int, in_cell: bool, stride: int = 1
                    ) -> ChainState:
        return ChainState(Placement(channels, target), in_cell and self.scope.phase == "search",
                          stride_wanted=stride, place=dict(zip(PLACE_NAMES, (channels, target))))


def _listed(values) -> str:
    return ", ".join(map(str, values[:-1])) + f" and {values[-1]}"


def _taking(form: str) -> list[str]:
    return sorted({kind.kind for kind in KINDS.values() if form in kind.accepts})


def _of_type(value, wanted: type) -> bool:
    """Whether an attribute of type `wanted` may take `value`: a real one takes a whole
    number too (dropout(p=1) is p=1.0)."""
    if wanted is bool:
        return isinstance(value, bool)
    if wanted is KernelSize:
        return is_whole(value) or isinstance(value, KernelSize)
    return is_whole(value) or (wanted is float and isinstance(value, float))
