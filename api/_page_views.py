"""What the HTML pages show, prepared in Python so that templates only loop and branch: terms as readable text with
links, a resource's properties, parts and incoming links, and the landing sections of models and datasets."""

from __future__ import annotations

import json
import shlex
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import FOAF
from rdflib.term import Node

from fairkg.kg.consistency import ConsistencySummary, consistency_summary
from fairkg.kg.describe import Provenance, provenance, resolved
from fairkg.kg.identifiers import Identifier, key_of
from fairkg.kg.namespaces import (
    DCAT,
    DCT,
    FAIR4ML,
    FKG,
    MLS,
    PREFIXES,
    PROV,
    RDF,
    RDFS,
    SCHEMA,
    SPDX,
    SPDX_LICENSES,
    XSD,
)
from fairkg.kg.records import DISTRIBUTION_CLASSES
from fairkg.kg.search import display_names
from fairkg.kg.store.base import QueryResult, Store

# Longest namespace first, so that a term is compacted with the most specific prefix.
_NAMESPACES = sorted([*((p, str(ns)) for p, ns in PREFIXES.items()), ("foaf", str(FOAF)),
                      ("spdxlic", str(SPDX_LICENSES)), ("dcmitype", "http://purl.org/dc/dcmitype/")],
                     key=lambda item: -len(item[1]))
_LINKABLE_SCHEMES = ("http", "https", "ftp", "mailto")
_INTEGERS = {XSD.integer, XSD.int, XSD.long, XSD.short, XSD.nonNegativeInteger, XSD.positiveInteger,
             XSD.unsignedInt, XSD.unsignedLong}
_DECIMALS = {XSD.double, XSD.float, XSD.decimal}
_FIRST = [DCT.title, SCHEMA.name, RDFS.label, DCT.description, DCT.identifier, DCT.creator, DCT.publisher, DCT.issued,
          DCAT.version, DCT.license]
_FORMAT_NAMES = {cls: name for name, cls in DISTRIBUTION_CLASSES.items()}
_TRITON_DTYPES = {"bool": "BOOL", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
                  "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64", "float16": "FP16",
                  "bfloat16": "BF16", "float32": "FP32", "float64": "FP64"}
#: Elements of zeros written into the curl example; bigger inputs get a placeholder to fill in.
_CURL_MAX_VALUES = 64
MAX_INCOMING = 500


def _prefixes(*names: str) -> str:
    return "".join(f"PREFIX {n}: <{PREFIXES[n]}>\n" for n in names)


#: (title, SPARQL) shown on the home and query pages.
EXAMPLE_QUERIES: tuple[tuple[str, str], ...] = (
    ("Models and their licences", _prefixes("mls", "dcterms") + """SELECT ?model ?title ?licence WHERE {
  ?model a mls:Model ; dcterms:title ?title .
  OPTIONAL { ?model dcterms:license ?licence }
} ORDER BY ?title"""),
    ("Models trained on each dataset", _prefixes("fair4ml", "dcterms") + """SELECT ?dataset ?data ?model ?title WHERE {
  ?model fair4ml:trainedOn ?dataset ; dcterms:title ?title .
  ?dataset dcterms:title ?data .
} ORDER BY ?data ?title"""),
    ("Models lacking a licence", _prefixes("mls", "dcterms") + """SELECT ?model ?title WHERE {
  ?model a mls:Model ; dcterms:title ?title .
  FILTER NOT EXISTS { ?model dcterms:license ?licence }
} ORDER BY ?title"""),
    ("Hyperparameters of every model", _prefixes("mls", "dcterms", "prov", "schema")
     + """SELECT ?title ?name ?value WHERE {
  ?model a mls:Model ; dcterms:title ?title ; prov:wasGeneratedBy ?run .
  ?run mls:hasInput ?setting .
  ?setting a mls:HyperParameterSetting ; schema:name ?name ; mls:hasValue ?value .
} ORDER BY ?title ?name"""),
    ("Distributions with their checksums", _prefixes("mls", "dcat", "schema", "spdx")
     + """SELECT ?model ?file ?sha256 WHERE {
  ?model a mls:Model ; dcat:distribution ?d .
  ?d schema:name ?file ; spdx:checksum/spdx:checksumValue ?sha256 .
} ORDER BY ?model ?file"""),
)


# -- terms ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    """An RDF term as a page shows it: readable ``text``, a link where it has one, and its datatype or language
    shown subtly. ``title`` is the full IRI (a tooltip); ``css`` a class for numbers, hashes, dates."""

    text: str
    href: str | None = None
    kind: str = "literal"  # "iri" | "literal" | "bnode"
    datatype: str | None = None
    lang: str | None = None
    title: str | None = None
    css: str = ""


def compact(iri: str) -> str | None:
    """``prefix:local`` for an IRI in a known namespace, else None."""
    for prefix, ns in _NAMESPACES:
        if iri.startswith(ns) and len(iri) > len(ns):
            local = iri[len(ns):]
            if "/" not in local and "#" not in local:
                return f"{prefix}:{local}"
    return None


class Linker:
    """Turns terms into :class:`Term`s for one page: IRIs under ``base_iri`` link relatively, hash IRIs of the page's
    own resource link to their anchor, other http(s) IRIs as they are; ``names`` give IRIs their readable names."""

    def __init__(self, base_iri: str, page: URIRef | None = None) -> None:
        self.base = base_iri.rstrip("/")
        self.page = str(page) if page is not None else None
        self.names: dict[str, str] = {}

    def href(self, iri: object) -> str | None:
        """Where a link to ``iri`` points (None for IRIs that must not become links, e.g. ``javascript:``)."""
        text = str(iri)
        if self.page and text.startswith(self.page + "#"):
            return text[len(self.page):]
        if text == self.base or text.startswith(self.base + "/"):
            return text[len(self.base):] or "/"
        return text if urlsplit(text).scheme.lower() in _LINKABLE_SCHEMES else None

    def internal(self, iri: object) -> bool:
        return str(iri).startswith(self.base + "/")

    def term(self, node: Node | None, *, predicate: URIRef | None = None) -> Term:
        """A term for ``node``; ``predicate`` tells how to read some literals (byte sizes)."""
        if node is None:
            return Term("")
        if isinstance(node, URIRef):
            text = self.names.get(str(node)) or compact(str(node))
            if text is None:
                text = str(node)[len(self.base):] if self.internal(node) else str(node)
            return Term(text, self.href(node), "iri", title=str(node))
        if isinstance(node, BNode):
            return Term(f"_:{node}", kind="bnode")
        if isinstance(node, Literal):
            return _literal(node, predicate)
        return Term(str(node))


def _literal(lit: Literal, predicate: URIRef | None) -> Term:
    datatype = lit.datatype
    shown = compact(str(datatype)) if datatype is not None else None
    text, css = str(lit), "text"
    try:
        if datatype == XSD.dateTime:
            text, css = _datetime(str(lit)), "date"
        elif datatype in _INTEGERS:
            number = int(str(lit))
            text, css = f"{number:,}", "number"
            if predicate in (DCAT.byteSize, FKG.memoryBytes):
                text = f"{human_bytes(number)} ({number:,} bytes)"
        elif datatype in _DECIMALS:
            text, css = f"{float(str(lit)):.6g}", "number"
        elif datatype == XSD.hexBinary:
            css = "hash"
        elif datatype == XSD.boolean:
            text = "true" if str(lit).strip() in ("true", "1") else "false"
    except ValueError:  # an ill-typed literal: show its lexical form as it is
        text, css = str(lit), "text"
    return Term(text, kind="literal", datatype=shown, lang=lit.language, css=css)


def _datetime(text: str) -> str:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None and moment.utcoffset() == UTC.utcoffset(None):
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.isoformat(sep=" ")


def human_bytes(size: int) -> str:
    """``size`` bytes in B, kB, MB... (powers of 1000, as DCAT byte sizes are read)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


# -- any resource --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PropertyView:
    predicate: Term
    values: list[Term]


@dataclass(frozen=True)
class PartView:
    """A hash-IRI part of the resource (an identifier, a tensor spec, a hyperparameter setting, a checksum)."""

    anchor: str
    title: str
    types: list[Term]
    properties: list[PropertyView]


@dataclass(frozen=True)
class ResourceView:
    iri: str
    key: str | None
    title: str
    types: list[Term]
    type_iris: frozenset[str]
    properties: list[PropertyView]
    parts: list[PartView]
    incoming: list[tuple[Term, Term]]
    incoming_total: int
    withdrawn: bool = False
    withdrawal_reason: str | None = None
    withdrawn_at: Term | None = None
    graph: Graph = field(default_factory=Graph, repr=False, compare=False)
    parts_graph: Graph = field(default_factory=Graph, repr=False, compare=False)

    @property
    def is_model(self) -> bool:
        return str(MLS.Model) in self.type_iris

    @property
    def is_dataset(self) -> bool:
        return str(MLS.Dataset) in self.type_iris


def resource_view(store: Store, iri: URIRef, linker: Linker, *, timeout: float | None = None) -> ResourceView | None:
    """Everything the graph says about ``iri``, or None when it says nothing."""
    graph = store.describe(str(iri))
    if len(graph) == 0:
        return None
    part_iris = sorted({o for o in graph.objects(iri, None) if isinstance(o, URIRef) and str(o).startswith(f"{iri}#")})
    parts_graph = Graph()
    for part in part_iris:
        parts_graph += store.describe(str(part))
    incoming = sorted(((s, p) for s, p in graph.subject_predicates(iri) if s != iri),
                      key=lambda sp: (str(sp[1]), str(sp[0])))
    named = {iri, *graph.objects(iri, None), *(s for s, _ in incoming[:MAX_INCOMING]), *parts_graph.objects(None, None)}
    linker.names.update(display_names(store, (n for n in named if isinstance(n, URIRef)), timeout=timeout))
    types = sorted((linker.term(t) for t in graph.objects(iri, RDF.type)), key=lambda t: t.text)
    withdrawn = graph.value(iri, FKG.withdrawn)
    return ResourceView(
        iri=str(iri), key=_key(iri), title=linker.names.get(str(iri)) or compact(str(iri)) or str(iri),
        types=types, type_iris=frozenset(str(t) for t in graph.objects(iri, RDF.type)),
        properties=_properties(graph, iri, linker),
        parts=[PartView(str(p).split("#", 1)[1], linker.names.get(str(p)) or str(p).split("#", 1)[1],
                        sorted((linker.term(t) for t in parts_graph.objects(p, RDF.type)), key=lambda t: t.text),
                        _properties(parts_graph, p, linker)) for p in part_iris],
        incoming=[(linker.term(s), linker.term(p)) for s, p in incoming[:MAX_INCOMING]],
        incoming_total=len(incoming),
        withdrawn=withdrawn is not None and bool(withdrawn.toPython()),
        withdrawal_reason=_str(graph.value(iri, FKG.withdrawalReason)),
        withdrawn_at=linker.term(graph.value(iri, PROV.invalidatedAtTime)) if withdrawn is not None else None,
        graph=graph, parts_graph=parts_graph,
    )


def _properties(graph: Graph, subject: URIRef, linker: Linker) -> list[PropertyView]:
    grouped: dict[URIRef, list[Node]] = defaultdict(list)
    for p, o in graph.predicate_objects(subject):
        if p != RDF.type:
            grouped[p].append(o)  # type: ignore[index]

    def order(p: URIRef) -> tuple[int, str]:
        return (_FIRST.index(p) if p in _FIRST else len(_FIRST), compact(str(p)) or str(p))

    return [PropertyView(linker.term(p), sorted((linker.term(o, predicate=p) for o in grouped[p]),
                                                key=lambda t: t.text))
            for p in sorted(grouped, key=order)]


def _key(iri: URIRef) -> str | None:
    try:
        return key_of(iri)
    except ValueError:
        return None


def _str(node: Node | None) -> str | None:
    return str(node) if node is not None else None


# -- files ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileView:
    """A distribution or data file: name, format, size, SHA-256 and where to download it."""

    page: str | None
    name: str
    format: str | None
    media_type: str | None
    size: str | None
    sha256: str | None
    download: str | None
    details: list[tuple[str, str]]
    splits: list[str]
    description: str | None


def file_view(store: Store, node: URIRef, linker: Linker) -> FileView:
    graph = store.describe(str(node))
    checksum = graph.value(node, SPDX.checksum)
    sha = None
    if checksum is not None:
        sha = _str(store.describe(str(checksum)).value(checksum, SPDX.checksumValue))
    size = graph.value(node, DCAT.byteSize)
    formats = [_FORMAT_NAMES[t] for t in graph.objects(node, RDF.type) if t in _FORMAT_NAMES]
    download = graph.value(node, DCAT.downloadURL)
    details = [(label, str(value)) for label, prop in (("runtime", FKG.runtimeVersion), ("built for", FKG.builtForGpu),
                                                        ("architecture", FKG.architecture))
               if (value := graph.value(node, prop)) is not None]
    return FileView(
        page=linker.href(node), name=_str(graph.value(node, SCHEMA.name)) or str(node).rsplit("/", 1)[-1],
        format=formats[0] if formats else None, media_type=_str(graph.value(node, SCHEMA.encodingFormat)),
        size=linker.term(size, predicate=DCAT.byteSize).text if size is not None else None, sha256=sha,
        download=linker.href(download) if download is not None else None, details=details,
        splits=sorted(str(s) for s in graph.objects(node, FKG["split"])),
        description=_str(graph.value(node, DCT.description)))


# -- models --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorView:
    name: str
    dtype: str
    shape: str
    description: str | None
    semantics: str | None


@dataclass(frozen=True)
class Evaluation:
    metric: str
    value: str
    split: str | None
    dataset: Term | None
    page: str | None


@dataclass(frozen=True)
class ModelView:
    key: str
    identifiers: list[tuple[str, str, str | None]]  # scheme, value, resolver URL
    doi: str | None
    citation: str
    bibtex: str
    distributions: list[FileView]
    inputs: list[TensorView]
    outputs: list[TensorView]
    curl: str
    python: str
    cli: str
    provenance: Provenance
    run: Term | None
    hardware: Term | None
    started: str | None
    ended: str | None
    datasets: list[tuple[Term, str | None, Term | None, list[tuple[str, str]]]]  # dataset, DOI, licence, files
    epoch_names: list[str]
    epochs: list[tuple[int, list[str]]]
    evaluations: list[Evaluation]
    reference: Term | None
    consistency: ConsistencySummary | None = None


def model_view(store: Store, iri: URIRef, view: ResourceView, linker: Linker, *, origin: str) -> ModelView:
    """The landing section of a model; ``origin`` is where this service answers (for the run examples)."""
    graph, parts = view.graph, view.parts_graph
    key = view.key or str(iri).rsplit("/", 1)[-1]
    identifiers = [(i["scheme"], i["value"], _resolver_url(i["scheme"], i["value"]))
                   for i in resolved(store, iri).identifiers]
    doi = next((value for scheme, value, _ in identifiers if scheme == "doi"), None)
    inputs = _tensors(parts, graph.objects(iri, FKG.inputSpec))
    outputs = _tensors(parts, graph.objects(iri, FKG.outputSpec))
    record = provenance(store, iri)
    run = URIRef(record.run) if record.run else None
    hardware = store.describe(str(run)).value(run, FKG.executedOn) if run is not None else None
    licences = [URIRef(d.licence) for d in record.datasets if d.licence]
    linker.names.update(display_names(store, [n for n in (run, hardware, *licences) if isinstance(n, URIRef)]))
    epoch_names = sorted({name for _, name, _ in record.epochs})
    by_epoch: dict[int, dict[str, float]] = defaultdict(dict)
    for epoch, name, value in record.epochs:
        by_epoch[epoch][name] = value
    reference = graph.value(iri, FKG.referenceExample)
    return ModelView(
        key=key, identifiers=identifiers, doi=doi,
        citation=_citation(graph, iri, view.title, linker, doi), bibtex=_bibtex(graph, iri, view.title, linker, doi),
        distributions=[file_view(store, d, linker) for d in sorted(graph.objects(iri, DCAT.distribution))],
        inputs=inputs, outputs=outputs,
        curl=_curl(origin, key, inputs), python=_python(origin, key, inputs, outputs),
        cli=f"fairkg run {shlex.quote(doi or key)} --dataset "
            f"{shlex.quote((record.datasets[0].doi or record.datasets[0].iri) if record.datasets else 'DATASET_DOI')}"
            " --split test",
        provenance=record, run=linker.term(run) if run is not None else None,
        hardware=linker.term(hardware) if hardware is not None else None,
        started=_datetime(record.started) if record.started else None,
        ended=_datetime(record.ended) if record.ended else None,
        datasets=[(Term(d.title or d.iri, linker.href(d.iri), "iri", title=d.iri), d.doi,
                   linker.term(URIRef(d.licence)) if d.licence else None, d.files) for d in record.datasets],
        epoch_names=epoch_names,
        epochs=[(e, [f"{by_epoch[e][n]:.4g}" if n in by_epoch[e] else "" for n in epoch_names])
                for e in sorted(by_epoch)],
        evaluations=_evaluations(store, graph, iri, linker),
        reference=linker.term(reference) if reference is not None else None,
        consistency=consistency_summary(store, str(iri)),
    )


def _resolver_url(scheme: str, value: str) -> str | None:
    return Identifier(scheme, value).url


def _tensors(parts: Graph, nodes: Iterable[Node]) -> list[TensorView]:
    found = []
    for node in nodes:
        position = parts.value(node, FKG.position)  # type: ignore[arg-type]
        found.append((int(position) if position is not None else 0, TensorView(
            name=str(parts.value(node, SCHEMA.name) or str(node).rsplit("-", 1)[-1]),  # type: ignore[arg-type]
            dtype=str(parts.value(node, FKG.dtype) or ""), shape=str(parts.value(node, FKG.shape) or ""),  # type: ignore[arg-type]
            description=_str(parts.value(node, DCT.description)),  # type: ignore[arg-type]
            semantics=_str(parts.value(node, FKG.semantics)))))  # type: ignore[arg-type]
    return [tensor for _, tensor in sorted(found, key=lambda item: (item[0], item[1].name))]


def _creators(graph: Graph, iri: URIRef, linker: Linker) -> list[str]:
    return sorted(linker.names.get(str(c), str(c)) for c in graph.objects(iri, DCT.creator))


def _apa_name(name: str) -> str:
    """``Josiah Carberry`` -> ``Carberry, J.``; a name already written ``Family, Given`` keeps its family part."""
    if "," in name:
        family, given = (part.strip() for part in name.split(",", 1))
    else:
        *given_names, family = name.split()
        given = " ".join(given_names)
    initials = " ".join(f"{g[0]}." for g in given.split() if g)
    return f"{family}, {initials}" if initials else family


def _citation(graph: Graph, iri: URIRef, title: str, linker: Linker, doi: str | None) -> str:
    """An APA-style reference: Authors (Year). Title (Version v) [Computer software]. Publisher. DOI URL."""
    names = [_apa_name(n) for n in _creators(graph, iri, linker)]
    authors = names[0] if len(names) == 1 else ", ".join(names[:-1]) + ", & " + names[-1] if names else ""
    year = _str(graph.value(iri, DCT.issued)) or "n.d."
    version = graph.value(iri, DCAT.version)
    publisher = graph.value(iri, DCT.publisher)
    text = f"{authors} ({year}). {title}"
    text += f" (Version {version})" if version is not None else ""
    text += " [Computer software]."
    if publisher is not None:
        text += f" {linker.names.get(str(publisher), str(publisher))}."
    if doi:
        text += f" https://doi.org/{doi}"
    return text.strip()


def _bibtex(graph: Graph, iri: URIRef, title: str, linker: Linker, doi: str | None) -> str:
    key = (doi or str(iri)).rsplit("/", 1)[-1].replace(".", "_")
    fields = [("author", " and ".join(_creators(graph, iri, linker))), ("title", title),
              ("year", _str(graph.value(iri, DCT.issued))), ("version", _str(graph.value(iri, DCAT.version))),
              ("publisher", linker.names.get(str(graph.value(iri, DCT.publisher)))), ("doi", doi),
              ("url", f"https://doi.org/{doi}" if doi else str(iri))]
    lines = [f"  {name} = {{{value}}}" for name, value in fields if value]
    return "@software{" + key + ",\n" + ",\n".join(lines) + "\n}"


def _shape(shape: str) -> list[int]:
    """A concrete shape for an example request: symbolic dimensions (the batch) become 1."""
    dims = [d.strip() for d in shape.split(",") if d.strip()]
    return [int(d) if d.isdigit() else 1 for d in dims]


def _curl(origin: str, key: str, inputs: list[TensorView]) -> str:
    """A request for the Open Inference Protocol's REST infer endpoint (JSON tensors, zeros of the right shape)."""
    tensors = []
    for spec in inputs:
        shape = _shape(spec.shape)
        count = 1
        for d in shape:
            count *= d
        data: object = [0] * count if count <= _CURL_MAX_VALUES else f"<{count} values, row-major>"
        datatype = _TRITON_DTYPES.get(spec.dtype, spec.dtype.upper())
        tensors.append({"name": spec.name, "shape": shape, "datatype": datatype, "data": data})
    body = json.dumps({"inputs": tensors})
    return (f"curl -X POST {shlex.quote(f'{origin}/v2/models/{key}/infer')} \\\n"
            f"  -H 'Content-Type: application/json' \\\n  -d {shlex.quote(body)}")


def _python(origin: str, key: str, inputs: list[TensorView], outputs: list[TensorView]) -> str:
    """The same request with Triton's Python client (``pip install tritonclient[http]``)."""
    url = urlsplit(origin)
    ssl = ", ssl=True" if url.scheme == "https" else ""
    lines = ["import numpy as np", "import tritonclient.http as httpclient", "",
             f"client = httpclient.InferenceServerClient(url={url.netloc + url.path!r}{ssl})", "inputs = []"]
    for spec in inputs:
        shape = _shape(spec.shape)
        lines.append(f"tensor = httpclient.InferInput({spec.name!r}, {shape}, "
                     f"{_TRITON_DTYPES.get(spec.dtype, spec.dtype.upper())!r})")
        lines.append(f"tensor.set_data_from_numpy(np.zeros({tuple(shape)}, dtype={spec.dtype!r}))")
        lines.append("inputs.append(tensor)")
    lines.append(f"result = client.infer({key!r}, inputs)")
    lines += [f"print({o.name!r}, result.as_numpy({o.name!r}))" for o in outputs]
    return "\n".join(lines)


def _evaluations(store: Store, graph: Graph, iri: URIRef, linker: Linker) -> list[Evaluation]:
    found = []
    for node in graph.subjects(PROV.wasDerivedFrom, iri):
        described = store.describe(str(node))
        if (node, RDF.type, MLS.ModelEvaluation) not in described:
            continue
        value = described.value(node, MLS.hasValue)
        dataset = described.value(node, FAIR4ML.evaluationDataset)
        found.append(Evaluation(
            metric=str(described.value(node, SCHEMA.name) or ""),
            value=linker.term(value).text if value is not None else "",
            split=_str(described.value(node, FKG["split"])),
            dataset=linker.term(dataset) if dataset is not None else None, page=linker.href(node)))
    return sorted(found, key=lambda e: (e.metric, e.split or ""))


# -- datasets ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetView:
    files: list[FileView]
    licence: Term | None
    record_count: str | None
    features: str | None
    provenance: str | None
    trained: list[Term]
    evaluated: list[Term]


def dataset_view(store: Store, iri: URIRef, view: ResourceView, linker: Linker) -> DatasetView:
    """The landing section of a dataset: files with checksums and splits, licence, and the models that use it."""
    graph = view.graph
    licence = graph.value(iri, DCT.license)
    count = graph.value(iri, FKG.recordCount)
    statement = graph.value(iri, DCT.provenance)
    return DatasetView(
        files=[file_view(store, f, linker) for f in sorted(graph.objects(iri, DCAT.distribution))],
        licence=linker.term(licence) if licence is not None else None,
        record_count=linker.term(count).text if count is not None else None,
        features=_str(graph.value(iri, SCHEMA.variableMeasured)),
        provenance=_str(view.parts_graph.value(statement, RDFS.label)) if statement is not None else None,
        trained=sorted((linker.term(m) for m in graph.subjects(FAIR4ML.trainedOn, iri)), key=lambda t: t.text),
        evaluated=sorted((linker.term(m) for m in graph.subjects(FAIR4ML.evaluatedOn, iri)), key=lambda t: t.text),
    )


# -- query results -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResultTable:
    variables: list[str]
    rows: list[list[Term | None]]
    truncated: bool


def result_table(result: QueryResult, linker: Linker) -> ResultTable | None:
    """A SELECT's rows, or a graph's triples (subject, predicate, object), as terms; None for ASK."""
    if result.kind == "select" and result.select is not None:
        rows: list[list[Term | None]] = [
            [linker.term(row[v]) if v in row else None for v in result.select.variables]  # type: ignore[arg-type]
            for row in result.select.rows]
        return ResultTable(list(result.select.variables), rows, result.select.truncated)
    if result.kind == "graph" and result.graph is not None:
        triples = sorted(result.graph, key=lambda t: (str(t[0]), str(t[1]), str(t[2])))
        rows = [[linker.term(s), linker.term(p), linker.term(o, predicate=p)]  # type: ignore[arg-type]
                for s, p, o in triples[:1000]]
        return ResultTable(["subject", "predicate", "object"], rows, len(triples) > 1000)
    return None


__all__ = ["EXAMPLE_QUERIES", "Linker", "Term", "compact", "dataset_view", "human_bytes", "model_view",
           "resource_view", "result_table"]
