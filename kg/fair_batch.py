"""Assess many models at once (``fairkg assess --all``), with the verdicts :func:`fairkg.kg.fair.assess` would give
one by one.

The registry evidence of each chunk of models is written in one SPARQL update; the records of a chunk are validated
together (:meth:`fairkg.kg.shacl.ShapesValidator.validate_many`), in worker processes when there are enough of them
to pay for starting those (~2 s each: pySHACL and the shapes are loaded once per worker); the verdicts of a chunk
are stored in one SPARQL update. ``bench/assess.py`` measures it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime

import pyoxigraph as ox
from rdflib import Graph

from fairkg.kg.evidence import record_observations, registry_observations_many
from fairkg.kg.fair import (
    Assessment,
    assessment_from_report,
    default_principles,
    default_validator,
    record_ntriples,
    shapes_version,
    verdict_graph,
    verdict_graph_name,
)
from fairkg.kg.namespaces import bind_prefixes
from fairkg.kg.store.base import Store
from fairkg.kg.store.oxigraph import replace_graphs_update
from fairkg.kg.workers import MIN_FOR_WORKERS, default_workers, process_pool

#: models per pySHACL run: large enough to spread its fixed cost (~20 ms), small enough to keep reports small
CHUNK = 50

_DCT_IDENTIFIER = ox.NamedNode("http://purl.org/dc/terms/identifier")


def assess_many(store: Store, models: Sequence[str], *, base_iri: str, workers: int | None = None,
                chunk: int = CHUNK, progress: Callable[[int], None] | None = None) -> Iterator[Assessment]:
    """Assess ``models`` (registered model IRIs) with the default shapes and store their verdicts; yields each
    :class:`~fairkg.kg.fair.Assessment` once stored, in order.

    Args:
        workers: validating processes; 0 validates here; default :func:`default_workers`.
        progress: called with the number of models just assessed.
    """
    workers = default_workers(len(models)) if workers is None else workers
    chunks = [list(models[i:i + chunk]) for i in range(0, len(models), chunk)]
    graphs = _graph_names(store)
    if workers <= 0:
        for part in chunks:
            yield from _store(store, part, _validate_chunk(_gather(store, part, base_iri, graphs)), progress)
        return
    with process_pool(workers) as pool:
        pending: list[tuple[list[str], Future[list[tuple[Assessment, bytes]]]]] = []
        ahead = 2 * workers  # records gathered ahead of the workers, so none waits and memory stays bounded
        for part in chunks:
            pending.append((part, pool.submit(_validate_chunk, _gather(store, part, base_iri, graphs))))
            while len(pending) > ahead:
                done, future = pending.pop(0)
                yield from _store(store, done, future.result(), progress)
        for done, future in pending:
            yield from _store(store, done, future.result(), progress)


def _graph_names(store: Store) -> set[str] | None:
    """The embedded store's graph names (listed in ~1 us each), once per run: records link to no graph created
    during it (evidence graphs are looked up by name, verdict graphs are not linked)."""
    native = getattr(store, "_store", None)
    return {g.value for g in native.named_graphs()} if isinstance(native, ox.Store) else None


def _gather(store: Store, models: list[str], base_iri: str, graphs: set[str] | None) -> list[tuple[str, bytes]]:
    """Record the chunk's registry evidence (one update), then each model's record as N-Triples."""
    record_observations(store, registry_observations_many(store, models, base_iri))
    return [(model, record_ntriples(store, model, graphs=graphs)) for model in models]


def _validate_chunk(records: list[tuple[str, bytes]]) -> list[tuple[Assessment, bytes]]:
    """(In a worker.) Validate the records together; per model its assessment, with its report as N-Triples
    (cheap to send between processes; parsed if read), and its verdict graph as N-Triples."""
    stores = {}
    for model, data in records:
        stores[model] = ox.Store()
        stores[model].load(data, format=ox.RdfFormat.N_TRIPLES)
    reports = default_validator().validate_many(stores)
    stamp = datetime.now(UTC).replace(microsecond=0)
    out = []
    for model, _data in records:
        found = next(stores[model].quads_for_pattern(ox.NamedNode(model), _DCT_IDENTIFIER, None), None)
        report = reports[model][1]
        report.namespace_manager = _prefixed().namespace_manager  # path_text writes prefixed names
        assessment = assessment_from_report(model, report, default_principles(),
                                            identifier=found.object.value if found is not None else None,
                                            assessed_at=stamp, version=shapes_version())
        verdict = verdict_graph(assessment, prefixes=False).serialize(format="nt", encoding="utf-8")
        out.append((replace(assessment, report_source=report.serialize(format="nt", encoding="utf-8")), verdict))
    return out


@functools.cache
def _prefixed() -> Graph:
    """A graph with fairkg's prefixes, whose namespace manager reports borrow (binding ~20 prefixes costs ~1 ms)."""
    return bind_prefixes(Graph(store="SimpleMemory"))


def _store(store: Store, models: list[str], validated: list[tuple[Assessment, bytes]],
           progress: Callable[[int], None] | None) -> Iterator[Assessment]:
    """Store the chunk's verdicts (one update, each replacing the model's previous one); yield the assessments."""
    store.update(replace_graphs_update({verdict_graph_name(a.model): verdict for a, verdict in validated}))
    yield from (assessment for assessment, _verdict in validated)
    if progress is not None:
        progress(len(models))


__all__ = ["CHUNK", "MIN_FOR_WORKERS", "assess_many", "default_workers"]
