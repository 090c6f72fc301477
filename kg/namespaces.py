"""Every namespace fairkg writes or reads, in one place (as pySHACL's ``consts.py`` gathers SHACL's).

schema.org is always ``http://schema.org/`` (the namespace of FAIR4ML, RO-Crate, CodeMeta and DataCite's
JSON-LD); :func:`normalise_schema_org` rewrites the ``https`` spelling on ingest.
"""

from __future__ import annotations

from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

# rdflib's DCAT is a closed namespace that lacks DCAT 3 terms (dcat:version); ours is open.
DCAT = Namespace("http://www.w3.org/ns/dcat#")
FKG = Namespace("https://w3id.org/fairkg/ontology#")
MLS = Namespace("http://www.w3.org/ns/mls#")
DATACITE = Namespace("http://purl.org/spar/datacite/")
LITERAL = Namespace("http://www.essepuntato.it/2010/06/literalreification/")
FABIO = Namespace("http://purl.org/spar/fabio/")
SCHEMA = Namespace("http://schema.org/")
SCHEMA_HTTPS = "https://schema.org/"
FAIR4ML = Namespace("https://w3id.org/fair4ml#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
SPDX_LICENSES = Namespace("http://spdx.org/licenses/")
ORCID = Namespace("https://orcid.org/")
DQV = Namespace("http://www.w3.org/ns/dqv#")
EARL = Namespace("http://www.w3.org/ns/earl#")
SH = Namespace("http://www.w3.org/ns/shacl#")
DCT = DCTERMS
IANA_MEDIA = Namespace("https://www.iana.org/assignments/media-types/")

PREFIXES: dict[str, Namespace] = {
    "fkg": FKG,
    "mls": MLS,
    "datacite": DATACITE,
    "literal": LITERAL,
    "fabio": FABIO,
    "schema": SCHEMA,
    "fair4ml": FAIR4ML,
    "spdx": SPDX,
    "dcterms": DCTERMS,
    "dcat": DCAT,
    "prov": PROV,
    "dqv": DQV,
    "earl": EARL,
    "sh": SH,
    "rdf": Namespace(str(RDF)),
    "rdfs": Namespace(str(RDFS)),
    "owl": Namespace(str(OWL)),
    "skos": Namespace(str(SKOS)),
    "xsd": Namespace(str(XSD)),
}

SPARQL_PREFIXES = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())


def bind_prefixes(graph: Graph) -> Graph:
    """Bind fairkg's prefixes on ``graph`` (replacing rdflib's https schema.org binding) and return it."""
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, ns, override=True, replace=True)
    return graph


def normalise_schema_org(graph: Graph) -> Graph:
    """Return ``graph`` with every ``https://schema.org/`` IRI rewritten to ``http://schema.org/``."""
    out = bind_prefixes(Graph())
    for s, p, o in graph:
        out.add(tuple(_normalise_term(t) for t in (s, p, o)))  # type: ignore[arg-type]
    return out


def _normalise_term(term):  # noqa: ANN001, ANN202 - rdflib terms
    if isinstance(term, URIRef) and str(term).startswith(SCHEMA_HTTPS):
        return URIRef(str(SCHEMA) + str(term)[len(SCHEMA_HTTPS) :])
    return term


__all__ = [
    "DATACITE", "DCAT", "DCT", "DCTERMS", "DQV", "EARL", "FABIO", "FAIR4ML", "FKG", "IANA_MEDIA", "LITERAL", "MLS",
    "ORCID", "OWL", "PREFIXES", "PROV", "RDF", "RDFS", "SCHEMA", "SH", "SKOS", "SPARQL_PREFIXES", "SPDX",
    "SPDX_LICENSES", "XSD", "bind_prefixes", "normalise_schema_org",
]
