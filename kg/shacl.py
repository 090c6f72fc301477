"""pySHACL, run for many small records: the one place fairkg calls it.

pySHACL's ``validate()`` re-reads the shapes on every call and does some work per result and per focus node
that grows with the data graph rather than with the record. On the ~15 FAIR shapes files that was ~95 ms per
record; :class:`ShapesValidator` brings it to ~45 ms (and ~28 ms per record when records are validated together,
see :mod:`fairkg.kg.fair_batch`), with the same report, by:

1. parsing the shapes into pySHACL's ``ShapesGraph`` once and reusing it (its shape cache included);
2. handing pySHACL the record as a ``DataGraph`` whose truth value is known: pySHACL evaluates
   ``datagraph or shapes_graph`` for every result it reports, which on an Oxigraph-backed graph runs
   ``SELECT (COUNT(DISTINCT ...))`` over the whole data graph (quadratic in records validated together);
3. while validating, looking constraint parameters up in a set instead of pySHACL's list (it tests every
   predicate of every shape against the list on every evaluation) and checking each SPARQL constraint's text for
   forbidden clauses once rather than once per focus node.

(3) replaces two pySHACL internals for the duration of a validation and puts them back after; where a pySHACL
version lacks them the tuning is skipped (slower, same results). ``tests/test_shacl.py`` checks the reports
against plain ``pyshacl.validate`` on records that pass and fail every principle.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
import pyshacl
import pyshacl.shape as _pyshacl_shape
from pyshacl.errors import ValidationFailure
from pyshacl.graph_abstraction import OxigraphDataGraph
from pyshacl.validator import Validator
from rdflib import RDF, RDFS, SH, BNode, Graph, Literal, URIRef
from rdflib.term import Node

log = logging.getLogger(__name__)

#: pySHACL options fairkg validates with: no inference (types are written at registration; RDFS inference costs
#: ~50x on small graphs), every result reported, warnings and infos leave ``sh:conforms`` true (verdicts per
#: principle are computed from the results), in place (the record is a throw-away copy).
OPTIONS: dict[str, Any] = {
    "inference": "none", "abort_on_first": False, "allow_infos": True, "allow_warnings": True, "advanced": False,
    "use_js": False, "debug": False, "inplace": True, "sparql_mode": False,
}


class RecordGraph(OxigraphDataGraph):  # type: ignore[misc]
    """A record in an in-memory pyoxigraph store, as pySHACL's data graph, with an O(1) truth value (the record
    is not modified while it is validated: no inference, no rules)."""

    def __init__(self, store: ox.Store, impl: Any = None, locked_context: Any = None) -> None:
        super().__init__(store, impl, locked_context)
        self._non_empty = len(store) > 0

    def __bool__(self) -> bool:
        return self._non_empty


class ShapesValidator:
    """Validates records against one shapes graph, parsed once. Thread-safe (one validation at a time: pySHACL
    is pure Python, so concurrent validations would only share the GIL)."""

    def __init__(self, shapes: Graph) -> None:
        self._shapes = shapes
        self._shapes_graph: Any = None
        self._lock = threading.Lock()
        self._targets = TargetSpec.of(shapes)

    def validate(self, record: ox.Store) -> tuple[bool, Graph]:
        """``sh:conforms`` and the W3C ``sh:ValidationReport`` graph of ``record`` (its default graph).

        Raises:
            ValueError: the shapes are not valid SHACL (e.g. a SPARQL constraint with a VALUES clause, which
                SHACL 1.0 section 5.3.1 forbids).
        """
        options = dict(OPTIONS, logger=log)
        with self._lock, _tuned():
            validator = Validator(RecordGraph(record), shacl_graph=self._shapes, options=options)
            if self._shapes_graph is None:
                self._shapes_graph = validator.shacl_graph
            validator.shacl_graph = self._shapes_graph
            try:
                conforms, report, _text = validator.run()
            except ValidationFailure as failure:
                raise ValueError(f"the FAIR shapes are not valid SHACL: {failure.message}") from failure
        return bool(conforms), report

    def validate_many(self, records: Mapping[str, ox.Store]) -> dict[str, tuple[bool, Graph]]:
        """Each record's ``(sh:conforms, report)``, as :meth:`validate` would give it alone, from one pySHACL run
        over the union of the records (pySHACL's cost per run, ~20 ms here, is paid once).

        A record's results are those whose focus node it targets (SHACL 1.0, section 2.1.3). That equals
        validating it alone when everything the shapes can see from those targets is the same in the union as in
        the record: every node reachable from them, forwards and backwards along the predicates shapes follow
        backwards (``sh:inversePath``), has the same triples in both and is the target of the same shapes. A
        record for which that does not hold (it evaluates a model on a dataset another record trains on, so the
        union makes the dataset a ``sh:targetObjectsOf fair4ml:trainedOn`` focus) waits for the next round, with
        the records left over; the last one is validated alone. Assumes SHACL-SPARQL constraints read forward
        from ``$this``, as fairkg's do (``tests/test_shacl.py`` compares both ways on demo and synthetic records).
        """
        if self._targets is None:
            return {key: self.validate(record) for key, record in records.items()}
        results: dict[str, tuple[bool, Graph]] = {}
        pending = dict(records)
        while len(pending) > 1:  # each round validates together the records independent of the others
            union = ox.Store()
            for record in pending.values():
                union.extend(record)
            targets: dict[str, dict[Node, set[Any]]] = {}
            for key, record in pending.items():
                found = self._targets.select(record)
                if found is not None and _independent(record, union, found, self._targets):
                    targets[key] = found
            if len(targets) < 2:
                break
            if len(targets) < len(pending):
                union = ox.Store()
                for key in targets:
                    union.extend(pending[key])
            _conforms, report = self.validate(union)
            split = _split_report(report, targets, self._targets)
            if split is None:
                break
            results.update(split)
            pending = {key: record for key, record in pending.items() if key not in targets}
        results.update((key, self.validate(record)) for key, record in pending.items())
        return {key: results[key] for key in records}


def validate_plain(record: ox.Store, shapes: Graph) -> tuple[bool, Graph]:
    """``record`` validated by plain ``pyshacl.validate`` with :data:`OPTIONS`, none of the tuning above: the
    reference :class:`ShapesValidator` is tested against."""
    options = {k: v for k, v in OPTIONS.items() if k not in ("use_js", "sparql_mode")}
    conforms, report, text = pyshacl.validate(record, shacl_graph=shapes, ont_graph=None, meta_shacl=False,
                                              js=False, **options)
    if isinstance(report, ValidationFailure):
        raise ValueError(f"the FAIR shapes are not valid SHACL: {text}") from report
    return bool(conforms), report


# -- validating records together ---------------------------------------------------------------------------------

_RDF_TYPE = ox.NamedNode(str(RDF.type))
_SUBCLASS_OF = ox.NamedNode(str(RDFS.subClassOf))


@dataclass(frozen=True)
class ShapeTargets:
    """How one shape selects its focus nodes (SHACL 1.0, section 2.1.3)."""

    classes: frozenset[ox.NamedNode]
    subjects_of: frozenset[ox.NamedNode]
    objects_of: frozenset[ox.NamedNode]
    nodes: frozenset[Any]

    def select(self, record: ox.Store) -> set[Any]:
        found: set[Any] = set(self.nodes)
        for cls in self.classes:
            found.update(q.subject for q in record.quads_for_pattern(None, _RDF_TYPE, cls))
        for predicate in self.subjects_of:
            found.update(q.subject for q in record.quads_for_pattern(None, predicate, None))
        for predicate in self.objects_of:
            found.update(q.object for q in record.quads_for_pattern(None, predicate, None))
        return found


@dataclass(frozen=True)
class TargetSpec:
    """The shapes' targets, which shape reports each result (``sh:sourceShape``: the targeting shape or one of
    its ``sh:property`` shapes), and the predicates the shapes follow backwards."""

    shapes: Mapping[Node, ShapeTargets]
    reported_by: Mapping[Node, frozenset[Node]]  # sh:sourceShape -> the targeting shapes it reports for
    inverse: frozenset[ox.NamedNode]  # sh:inversePath: the path reads the subjects
    shared_objects_of: frozenset[ox.NamedNode]  # sh:targetObjectsOf of shapes whose results can't be told apart

    @classmethod
    def of(cls, shapes: Graph) -> TargetSpec | None:
        """The spec of ``shapes``, or None when it cannot be read simply (a complex inverse path or target, an
        implicit class target, SHACL-AF targets): records are then validated one by one."""
        inverse = list(shapes.objects(None, SH.inversePath))
        if (not all(isinstance(p, URIRef) for p in inverse) or (None, SH.target, None) in shapes
                or (None, RDF.type, RDFS.Class) in shapes):
            return None
        targeting: dict[Node, ShapeTargets] = {}
        for shape in {s for p in _TARGETS for s in shapes.subjects(p, None)}:
            found = [list(shapes.objects(shape, p)) for p in _TARGETS]
            if not all(isinstance(v, URIRef) for values in found[:3] for v in values):
                return None
            classes, subjects_of, objects_of = (frozenset(ox.NamedNode(str(v)) for v in vs) for vs in found[:3])
            nodes = frozenset(_to_oxigraph(n) for n in found[3])
            if None in nodes:
                return None
            targeting[shape] = ShapeTargets(classes, subjects_of, objects_of, nodes)
        reported_by: dict[Node, set[Node]] = {}
        for shape in targeting:
            for reporter in _reporters(shapes, shape):
                reported_by.setdefault(reporter, set()).add(shape)
        shared = {p for tops in reported_by.values() if len(tops) > 1 for top in tops
                  for p in targeting[top].objects_of}
        return cls(targeting, {k: frozenset(v) for k, v in reported_by.items()},
                   frozenset(ox.NamedNode(str(p)) for p in inverse), frozenset(shared))

    def select(self, record: ox.Store) -> dict[Node, set[Any]] | None:
        """The focus nodes each shape selects in ``record``, or None when the record has ``rdfs:subClassOf``
        triples (class targets would then reach subclasses: validated alone)."""
        if next(record.quads_for_pattern(None, _SUBCLASS_OF, None), None) is not None:
            return None
        return {shape: targets.select(record) for shape, targets in self.shapes.items()}


_TARGETS = (SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.targetNode)


def _reporters(shapes: Graph, shape: Node) -> set[Node]:
    """``shape`` and the property shapes under it (``sh:property``, SHACL 1.0 section 2.3): the shapes whose
    results pySHACL reports with the focus node ``shape`` targets. Shapes reached through ``sh:node``,
    ``sh:not``... only make their parent's constraint fail."""
    found, queue = set(), [shape]
    while queue:
        current = queue.pop()
        if current not in found:
            found.add(current)
            queue.extend(shapes.objects(current, SH.property))
    return found


def _independent(record: ox.Store, union: ox.Store, targets: Mapping[Node, set[Any]], spec: TargetSpec) -> bool:
    """True when every node the shapes can reach from the record's targets has the same triples in ``union`` as
    in ``record`` (``record`` is a subset of ``union``, so equal counts mean equal triples), and, for shapes
    whose results cannot be told apart, is the focus of the same shapes."""
    queue, seen = [node for found in targets.values() for node in found], set()
    while queue:
        node = queue.pop()
        if node in seen or isinstance(node, ox.Literal):
            continue
        seen.add(node)
        own = list(record.quads_for_pattern(node, None, None))
        if _count(union, node, None, None) != len(own):
            return False
        queue.extend(q.object for q in own)
        for predicate in spec.shared_objects_of:  # targeted in the union by another record's triple only?
            if next(record.quads_for_pattern(None, predicate, node), None) is None and next(
                    union.quads_for_pattern(None, predicate, node), None) is not None:
                return False
        for predicate in spec.inverse:
            back = list(record.quads_for_pattern(None, predicate, node))
            if _count(union, None, predicate, node) != len(back):
                return False
            queue.extend(q.subject for q in back)
    return True


def _count(store: ox.Store, subject: Any, predicate: Any, object_: Any) -> int:
    return sum(1 for _ in store.quads_for_pattern(subject, predicate, object_))


def _split_report(report: Graph, targets: Mapping[str, Mapping[Node, set[Any]]], spec: TargetSpec
                  ) -> dict[str, tuple[bool, Graph]] | None:
    """One ``sh:ValidationReport`` per record: the results of the shapes that target their focus node in it, each
    with everything the result's blank nodes describe (result paths, cloned blank-node shapes). None when a
    result's source shape is not one :class:`TargetSpec` knows (it cannot be attributed)."""
    owners: dict[str, list[Node]] = {key: [] for key in targets}
    targeted_by: dict[tuple[Node, Any], list[str]] = {}
    for key, by_shape in targets.items():
        for shape, found in by_shape.items():
            for node in found:
                targeted_by.setdefault((shape, node), []).append(key)
    for result in report.objects(None, SH.result):
        focus = _to_oxigraph(report.value(result, SH.focusNode))
        tops = spec.reported_by.get(report.value(result, SH.sourceShape))  # type: ignore[arg-type]
        if tops is None:
            return None
        for key in {key for top in tops for key in targeted_by.get((top, focus), ())}:
            owners[key].append(result)
    return {key: _report_of(report, results) for key, results in owners.items()}


def _report_of(report: Graph, results: list[Node]) -> tuple[bool, Graph]:
    conforms = not any(report.value(r, SH.resultSeverity) == SH.Violation for r in results)
    graph = Graph(store="SimpleMemory")  # lighter than the default store: no contexts to keep
    node = BNode()
    graph.add((node, RDF.type, SH.ValidationReport))
    graph.add((node, SH.conforms, Literal(conforms)))
    fresh: dict[Node, BNode] = {}  # blank nodes of its own, as if validated alone (records may share results)
    for result in results:
        graph.add((node, SH.result, _copy_description(report, result, graph, fresh)))
    return conforms, graph


def _copy_description(source: Graph, node: Node, target: Graph, fresh: dict[Node, BNode]) -> Node:
    """Copy what ``source`` says about ``node`` and the blank nodes it leads to, renaming them; the copy of
    ``node``."""
    def renamed(term: Node) -> Node:
        if not isinstance(term, BNode):
            return term
        if term not in fresh:
            fresh[term] = BNode()
            queue.append(term)
        return fresh[term]

    queue: list[Node] = []
    copy = renamed(node)
    while queue:
        current = queue.pop()
        for predicate, value in source.predicate_objects(current):
            target.add((fresh[current], predicate, renamed(value)))  # type: ignore[index]
    return copy


def _to_oxigraph(term: Node | None) -> Any:
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    return None


# -- the tuning of pySHACL internals (3) ---------------------------------------------------------------------------

_memo_lock = threading.Lock()
_valid_sparql: set[tuple[str, bool, tuple[str, ...]]] = set()


@contextlib.contextmanager
def _tuned() -> Iterator[None]:
    """Swap in the set of constraint parameters and the memoised SPARQL check, and put pySHACL's back after."""
    try:
        from pyshacl.constraints import ALL_CONSTRAINT_PARAMETERS, CONSTRAINT_PARAMETERS_MAP
        from pyshacl.helper.sparql_query_helper import SPARQLQueryHelper
        original_check = SPARQLQueryHelper.check_invalid_sparql
    except (ImportError, AttributeError):  # another pySHACL layout: validate untuned
        yield
        return
    saved = getattr(_pyshacl_shape, "CONSTRAINT_PARAMS", None)
    _pyshacl_shape.CONSTRAINT_PARAMS = (frozenset(ALL_CONSTRAINT_PARAMETERS), CONSTRAINT_PARAMETERS_MAP)

    def check_once(helper: Any, sparql_text: str, valuenode: Any = None, extravars: Any = None) -> bool:
        # the outcome depends only on the text and on which variables may be pre-bound; failures still raise
        key = (sparql_text, valuenode is None, tuple(sorted(extravars or ())))
        if key in _valid_sparql:
            return True
        result = original_check(helper, sparql_text, valuenode, extravars)
        with _memo_lock:
            _valid_sparql.add(key)
        return result

    SPARQLQueryHelper.check_invalid_sparql = check_once
    try:
        yield
    finally:
        SPARQLQueryHelper.check_invalid_sparql = original_check
        if saved is None:
            with contextlib.suppress(AttributeError):
                delattr(_pyshacl_shape, "CONSTRAINT_PARAMS")
        else:
            _pyshacl_shape.CONSTRAINT_PARAMS = saved


__all__ = ["OPTIONS", "RecordGraph", "ShapeTargets", "ShapesValidator", "TargetSpec", "validate_plain"]
