"""The network: its settings, input, stem, stages of cells and layers, and head."""

from __future__ import annotations

from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate.cells import CellBuilder
from nasdsl.dsl.elaborate.chains import ChainExpander, ChainState
from nasdsl.dsl.elaborate.layers import LayersBuilder
from nasdsl.dsl.elaborate.scope import Scope, is_whole, keyword_of, names_hint, show_value
from nasdsl.dsl.limits import MAX_NETWORK_EDGES, MAX_STAGES
from nasdsl.dsl.modules import KINDS, VECTORS, chain_out_size
from nasdsl.dsl.space import Cell, CellKind, Layer, Network
from nasdsl.errors import did_you_mean


class NetworkBuilder:
    """Checks a network definition statement by statement and builds its `Network`."""

    def __init__(self, scope: Scope, expander: ChainExpander, cell_builder: CellBuilder,
                 layers_builder: LayersBuilder):
        self.scope = scope
        self.error, self.evaluate = scope.error, scope.evaluate
        self.expander = expander
        self.cell_builder = cell_builder
        self.layers_builder = layers_builder

    def network(self, net: S.NetworkDef, kinds: dict[str, CellKind]) -> Network | None:
        env: dict[str, int | bool] = {}
        forced = self.scope.image is not None
        image = dict(zip(("channels", "size"), self.scope.image)) if forced else \
            {"channels": 3, "size": 32}
        stages: list[Layer | Cell] = []
        history: list[tuple[int, int]] = []  # (channels, size) of each stage's output
        # After a stage fails, the history is wrong: placing later cells on it would report
        # channel and resolution mismatches that fixing the first error removes.
        ok = flowing = self.stage_order(net)
        lets = {stmt.name for stmt in net.body if isinstance(stmt, S.Let)}
        for name in sorted(set(self.scope.overrides) - lets):
            self.error(f"--set {name}=...: network '{net.name}' has no `let {name}`", net.at,
                       did_you_mean(name, lets) or names_hint(lets, "lets") or
                       "the network has no `let` to set")
            ok = False
        given = dict(self.scope.overrides)
        if self.scope.classes is not None and "classes" in lets:
            given["classes"] = self.scope.classes
        for stmt in net.body:
            if isinstance(stmt, S.Let):
                if stmt.name in env:
                    self.error(f"'{stmt.name}' is defined twice", stmt.at)
                value = given.get(stmt.name, self.evaluate(stmt.value, env))
                if value is None:
                    ok = False
                env[stmt.name] = value
            elif isinstance(stmt, S.Input):
                ok = self.input_stmt(stmt, env, dict(image) if forced else image) and ok
            elif isinstance(stmt, S.Search):
                if any(isinstance(earlier, (S.Cells, S.Layers))
                       for earlier in net.body[:net.body.index(stmt)]):
                    self.error("search settings must come before the first 'cells' or 'layers' "
                               "statement", stmt.at,
                               "move this line up: it applies to every cell and layer")
                    ok = False
                    continue
                ok = self.search_stmt(stmt, env) and ok
            elif isinstance(stmt, (S.Stem, S.Layer, S.Head)) and len(stages) >= MAX_STAGES:
                self.error(f"the network has more than {MAX_STAGES} stages (cells and layers), "
                           "the limit of a network", stmt.at)
                return None
            elif isinstance(stmt, (S.Stem, S.Layer, S.Head)):
                current = history[-1] if history else (image["channels"], image["size"])
                state = self.expander.chain_state(current[0], current[0], in_cell=False)
                state.head = isinstance(stmt, S.Head)
                if self.expander.expand(stmt.body, env, state) and \
                        self.head_output(stmt, state, lets) and self.square(stmt, state):
                    modules = tuple(state.modules)
                    stages.append(Layer(keyword_of(stmt), modules))
                    history.append((state.placement.channels,
                                    chain_out_size(modules, current[1])))
                else:
                    ok = flowing = False
            elif isinstance(stmt, (S.Cells, S.Layers)):
                place = self.cells_stmt if isinstance(stmt, S.Cells) else self.layers_stmt
                placed = place(stmt, env, kinds, stages, history, image, flowing)
                ok, flowing = ok and placed, flowing and placed
        classes = history[-1][0] if history else 0
        if not ok:
            return None
        return Network(net.name, image["channels"], image["size"], classes, tuple(stages))

    def stage_order(self, net: S.NetworkDef) -> bool:
        """A network has one stem, first among its stages, and one head, last: the cells and
        layers between them work on feature maps, the head makes the class scores."""
        ok = True
        stages = [stmt for stmt in net.body if isinstance(stmt, (S.Stem, S.Cells, S.Layers,
                                                                  S.Layer, S.Head))]
        for cls, keyword, place in ((S.Stem, "stem", 0), ((S.Cells, S.Layers),
                                                          "cells' or 'layers", None),
                                    (S.Head, "head", -1)):
            found = [stmt for stmt in stages if isinstance(stmt, cls)]
            if not found:
                self.error(f"network '{net.name}' has no '{keyword}' statement", net.at)
                ok = False
            elif place is not None and len(found) > 1:
                self.error(f"network '{net.name}' has two '{keyword}' statements", found[1].at,
                           f"the first is at {found[0].at}; use 'layer' for the stages "
                           "between the stem and the head")
                ok = False
            elif place is not None and stages[place] is not found[0]:
                where = "first" if place == 0 else "last"
                self.error(f"the {keyword} must be the network's {where} stage", found[0].at,
                           f"move the '{keyword}' statement {'above' if place == 0 else 'below'}"
                           " every 'cells', 'layers' and 'layer' statement")
                ok = False
        return ok

    def square(self, stmt, state: ChainState) -> bool:
        """A stem or layer strides its axes alike in all (a conv may stride one of them, so
        long as another conv strides the other): the stages between give square maps."""
        if state.stride_done.square:
            return True
        self.error(f"the {keyword_of(stmt)} strides by {state.stride_done} in all: a stage gives "
                   "square feature maps", stmt.at,
                   "make the strides of its convs multiply alike on both axes")
        return False

    def head_output(self, stmt, state: ChainState, lets: set[str]) -> bool:
        """The head ends in one vector of class scores per image, as many as the data has
        classes when that is known."""
        if not isinstance(stmt, S.Head):
            return True
        if state.form != VECTORS:
            self.error("the head ends in feature maps, not in a vector of class scores per "
                       "image", stmt.at, "end it with global_avg_pool -> linear(out=classes)")
            return False
        produced = state.placement.channels
        if self.scope.classes is not None and produced != self.scope.classes:
            self.error(f"the head gives {produced} class scores, but the data has "
                       f"{self.scope.classes} classes", stmt.at,
                       "write `let classes = ...` in the network and `linear(out=classes)` in "
                       "the head: `classes` then follows the data" if "classes" not in lets
                       else "make the head's last layer give `classes` outputs")
            return False
        return True

    def input_stmt(self, stmt: S.Input, env, image: dict) -> bool:
        ok = True
        for arg in stmt.args:
            if arg.name not in image:
                self.error(f"input has no attribute '{arg.name}'", arg.at,
                           did_you_mean(arg.name, image) or names_hint(image, "attributes"))
                ok = False
                continue
            value = self.evaluate(arg.value, env)
            if value is None or not is_whole(value) or value < 1:
                if value is not None:
                    self.error(f"input {arg.name} must be a whole number of at least 1, not "
                               f"{show_value(value)}", arg.at)
                ok = False
            else:
                image[arg.name] = value
        return ok

    def search_stmt(self, stmt: S.Search, env) -> bool:
        """`search bn(affine=false)`: defaults of a module kind inside cells while searching."""
        kind = KINDS.get(stmt.call.name)
        if kind is None:
            self.error(f"unknown module '{stmt.call.name}'", stmt.call.at,
                       did_you_mean(stmt.call.name, KINDS) or names_hint(KINDS, "modules"))
            return False
        checked = self.expander.given_attributes(kind, stmt.call, env, required=False)
        if checked is None:
            return False
        given, where = checked
        if "search_only" in given:
            self.error("search_only belongs on a module in a chain, not in search settings",
                       where["search_only"])
            return False
        self.scope.search_settings.setdefault(kind.kind, {}).update(given)
        return True

    def cells_stmt(self, stmt: S.Cells, env, kinds, stages, history, image, flowing) -> bool:
        definition = self.scope.cells.get(stmt.cell.name)
        if definition is None:
            cells = self.scope.cells
            self.error(f"unknown cell '{stmt.cell.name}'", stmt.cell.at,
                       did_you_mean(stmt.cell.name, cells) or names_hint(cells, "cells"))
            return False
        self.scope.used.add(definition.name)
        sized = self.count_and_channels(stmt, env, "cell count")
        if sized is None:
            return False
        count, channels = sized
        if definition.name not in kinds:
            reported = len(self.scope.errors)
            kinds[definition.name] = self.cell_builder.cell_kind(definition)
            if len(self.scope.errors) > reported:  # placing it would report consequences of those
                self.scope.broken_cells.add(definition.name)
        kind = kinds[definition.name]
        if not flowing or definition.name in self.scope.broken_cells:
            return False
        if not self.within_limits(stmt, count, len(kind.edges) + len(kind.fixed), stages):
            return False
        for _ in range(count):
            start = history or [(image["channels"], image["size"])]
            arriving = ([start[0]] * kind.inputs + start)[-kind.inputs:]
            cell = self.cell_builder.place_cell(kind, definition, channels, arriving, stmt.at)
            if cell is None:
                return False
            stages.append(cell)
            history.append((cell.out_channels, cell.out_size))
        return True

    def layers_stmt(self, stmt: S.Layers, env, kinds, stages, history, image, flowing) -> bool:
        checked = self.layers_builder.check(stmt)  # its names, even after a failed stage
        sized = self.count_and_channels(stmt, env, "layer count")
        if checked is None or sized is None or not flowing or \
                not self.within_limits(stmt, sized[0], 1, stages):
            return False
        arriving = history[-1] if history else (image["channels"], image["size"])
        cells = self.layers_builder.layers(stmt, checked, *sized, kinds, arriving)
        if cells is None:
            return False
        for cell in cells:
            stages.append(cell)
            history.append((cell.out_channels, cell.out_size))
        return True

    def count_and_channels(self, stmt: S.Cells | S.Layers, env, what: str
                           ) -> tuple[int, int] | None:
        """The statement's count and channels, whole numbers of at least 1, or None after
        reporting why not."""
        count, channels = self.evaluate(stmt.count, env), self.evaluate(stmt.channels, env)
        if count is None or channels is None:
            return None
        for value, expr, name in ((count, stmt.count, what), (channels, stmt.channels,
                                                              "channels")):
            if not is_whole(value) or value < 1:
                self.error(f"{name} must be a whole number of at least 1, not "
                           f"{show_value(value)}", expr.at)
                return None
        return count, channels

    def within_limits(self, stmt: S.Cells | S.Layers, count: int, edges_each: int,
                      stages: list) -> bool:
        """Whether `count` more stages of `edges_each` edges keep the network within its
        limits; if not, the error says which."""
        if len(stages) + count > MAX_STAGES:
            self.error(f"the network would have {len(stages) + count:,} stages (cells and layers), "
                       f"more than {MAX_STAGES}, the limit of a network", stmt.count.at)
            return False
        edges = sum(len(stage.edges) + len(stage.fixed) for stage in stages
                    if isinstance(stage, Cell))
        if edges + count * edges_each > MAX_NETWORK_EDGES:
            self.error(f"the network would have more than {MAX_NETWORK_EDGES:,} edges, the limit "
                       "of a network", stmt.count.at)
            return False
        return True
