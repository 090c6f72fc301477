"""FAIR probes: what the service does with a model, observed through the real HTTP stack and recorded as evidence.

Some FAIR principles are about behaviour, not text (DESIGN.md, "FAIR assessment"). :func:`run_probes` acts on one
model and records what it saw with :mod:`fairkg.kg.evidence` (one ``fkg:Observation`` per probe, timestamped, with
the request and the response status); the shapes in ``shapes/`` then judge the observations.

Where the requests go: the live ``fairkg serve`` of this home when ``server.json`` announces one
(:func:`fairkg.api.server.read_server_info`), otherwise the same app run in-process over ASGI on the store given
(so ``fairkg demo --no-serve`` and ``fairkg assess`` record every observation without a server). Either way the
requests pass through routing, content negotiation, auth and problem handling exactly as a client's would.

The probes (names from :data:`fairkg.kg.evidence.PROBES`):

- ``A1.resolves``: GET on the identifier (``/doi/…``, ``/ark:/…``, else ``/resolve?id=…``) answers a redirect (3xx)
  and, followed, 200 in each representation asked for by ``Accept``: HTML, Turtle, JSON-LD and DataCite JSON.
- ``A1.signposting``: the landing page's ``Link`` header has ``cite-as`` (the DOI URL), ``describedby`` (each
  answering 200), ``type``, ``item`` for the files (unless withdrawn) and ``license`` when the record has one.
- ``F3.metadata-has-identifier``: the Turtle, JSON-LD and DataCite JSON served contain the identifier.
- ``A1.1.open-protocol``: the resolver, the model's IRI and its download URLs are http(s) URLs, and plain requests
  (nothing but ``Accept``) retrieve the metadata and the files (a restricted file answers the standard RFC 6750
  ``Bearer`` challenge, which is still an open protocol).
- ``A1.1.openapi``: ``/openapi.json`` is an OpenAPI 3 document listing ``/sparql`` and the resolver's paths.
- ``A1.2.restricted-refused``: "authentication where necessary". A restricted model's files answer 401 with
  ``WWW-Authenticate: Bearer`` without a token and 200 with one (when the probe holds a token: always in-process,
  where it adds its own admin token, and on a live server, through ``server.json``'s), while its metadata answer
  200. A public model's files answer 200 without a token (no authentication where none is necessary), and its
  metadata 200: that passes too, with the detail saying so.
- ``A2.tombstone-resolves``: on a throw-away copy (the model's graphs in an in-memory store, its files linked into
  a temporary home), the model is withdrawn; the copy's identifier must still resolve (3xx, then 200 marked
  withdrawn) while its files answer 410 Gone. A model already withdrawn is checked in place.
- ``F4.search-title`` / ``F4.search-keyword``: ``/search?q=…`` finds the model by its title and by a keyword.
- ``F4.jsonld-landing``: the landing page embeds ``<script type="application/ld+json">`` that parses and names
  the model (its IRI or DOI, and a name).
- ``R1.reference-reproduces`` / ``R1.consistent-across-runtimes``: the reference input through every runtime and
  device here (:func:`fairkg.runners.check_model`, which records the consistency evidence too).
- ``F1.unique`` / ``F4.catalogued``: store queries (:func:`fairkg.kg.evidence.registry_evidence`).

A probe that cannot run (no runtime can load the model, the server does not answer, the probe itself broke) records
``not-checked`` with the reason, never ``passed``.
"""

from __future__ import annotations

import contextlib
import html.parser
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from rdflib import Graph, Literal, URIRef

from fairkg.kg.evidence import Observation, observe, record_observations, registry_evidence
from fairkg.kg.namespaces import SPARQL_PREFIXES
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import Store

log = logging.getLogger(__name__)

#: seconds one probe request may take on a live server
TIMEOUT = 30.0
#: what the landing page is asked for, and what each representation must parse as
REPRESENTATIONS = (
    ("html", "text/html"),
    ("turtle", "text/turtle"),
    ("jsonld", "application/ld+json"),
    ("datacite-json", "application/vnd.datacite.datacite+json"),
)
REDIRECTS = (301, 302, 303, 307, 308)
#: the most search pages a search probe reads before concluding the model is not found
MAX_SEARCH_PAGES = 20
A2_REASON = "FAIR A2 probe: a throw-away copy withdrawn to check that its tombstone resolves"

_FACTS = SPARQL_PREFIXES + """
SELECT ?title ?identifier ?scheme ?value ?rights ?withdrawn ?license WHERE {
  GRAPH ?model {
    OPTIONAL { ?model dcterms:title ?title }
    OPTIONAL { ?model dcterms:identifier ?identifier }
    OPTIONAL { ?model datacite:hasIdentifier ?id . ?id a datacite:PrimaryResourceIdentifier ;
               datacite:usesIdentifierScheme ?scheme ; literal:hasLiteralValue ?value . }
    OPTIONAL { ?model dcterms:accessRights ?rights }
    OPTIONAL { ?model fkg:withdrawn ?withdrawn }
    OPTIONAL { ?model dcterms:license ?license }
  }
} LIMIT 1"""
_KEYWORDS = SPARQL_PREFIXES + "SELECT DISTINCT ?k WHERE { GRAPH ?model { ?model dcat:keyword ?k } } ORDER BY ?k"
_DOWNLOADS = SPARQL_PREFIXES + """
SELECT DISTINCT ?url WHERE { GRAPH ?model { ?model dcat:distribution ?d . ?d dcat:downloadURL ?url } } ORDER BY ?url"""
_LINKED_GRAPHS = SPARQL_PREFIXES + """
SELECT DISTINCT ?g WHERE {
  GRAPH ?model { ?x ?link ?object }
  FILTER (isIRI(?object) && ?link != rdf:type)
  BIND (IRI(REPLACE(STR(?object), "#.*$", "")) AS ?g)
  FILTER (?g != ?model)
  FILTER EXISTS { GRAPH ?g { ?s ?p ?o } }
  FILTER NOT EXISTS { GRAPH ?g { ?other a mls:Model } }
}"""
_LOCATIONS = SPARQL_PREFIXES + "SELECT DISTINCT ?loc WHERE { GRAPH ?model { ?node fkg:location ?loc } }"
_FKG = "https://w3id.org/fairkg/ontology#"


# -- what the probes know about the model -----------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFacts:
    """What the graph says about the model, as far as the probes need it."""

    iri: str
    key: str
    title: str | None
    identifier: str | None  # dcterms:identifier, else the primary identifier's value
    scheme: str | None  # doi, ark, handle ... (the primary identifier's scheme)
    restricted: bool
    withdrawn: bool
    license: str | None
    keywords: tuple[str, ...]
    downloads: tuple[str, ...]

    @property
    def identifier_path(self) -> str:
        """The path on this service that resolves the model's identifier."""
        if self.identifier and self.scheme == "doi":
            return f"/doi/{self.identifier}"
        if self.identifier and self.scheme == "ark" and self.identifier.startswith("ark:/"):
            return "/" + self.identifier
        return "/resolve?" + str(httpx.QueryParams({"id": self.identifier or self.iri}))

    @property
    def cite_as(self) -> str:
        """Where ``cite-as`` must point: the DOI's URL, or the model's IRI."""
        if self.identifier and self.scheme == "doi":
            return f"https://doi.org/{self.identifier}"
        return self.iri


def model_facts(store: Store, model_iri: str) -> ModelFacts:
    """The facts the probes check against, from the model's named graph."""
    model = URIRef(model_iri).n3()
    rows = list(store.query(_FACTS.replace("?model", model)).bindings())
    row = rows[0] if rows else {}
    scheme = str(row["scheme"]).rsplit("/", 1)[-1] if row.get("scheme") is not None else None
    identifier = row.get("identifier") or row.get("value")
    keywords = tuple(str(r["k"]) for r in store.query(_KEYWORDS.replace("?model", model)).bindings())
    downloads = tuple(str(r["url"]) for r in store.query(_DOWNLOADS.replace("?model", model)).bindings())
    return ModelFacts(
        iri=str(model_iri), key=str(model_iri).rstrip("/").rsplit("/", 1)[-1],
        title=str(row["title"]) if row.get("title") is not None else None,
        identifier=str(identifier) if identifier is not None else None, scheme=scheme,
        restricted=str(row.get("rights", "")) == _FKG + "RestrictedAccess",
        withdrawn=str(row.get("withdrawn", "")).lower() in ("true", "1"),
        license=str(row["license"]) if row.get("license") is not None else None,
        keywords=keywords, downloads=downloads)


# -- HTTP: a live server, or the app in-process -----------------------------------------------------------------


class InProcessTransport(httpx.BaseTransport):
    """A synchronous httpx transport that runs an ASGI app in this process (httpx's own ``ASGITransport`` is
    async-only): each request is handed to the app on an event loop in a helper thread (an anyio blocking portal),
    and the whole response is read before it is returned. The app's lifespan is not run: give it its store."""

    def __init__(self, app: Any, portal: Any) -> None:
        self._transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        copy = httpx.Request(request.method, request.url, headers=request.headers, content=body)

        async def send() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self._transport.handle_async_request(copy)
            content = await response.aread()
            return response.status_code, response.headers.raw, content

        status, headers, content = self._portal.call(send)
        return httpx.Response(status, headers=headers, content=content, request=request)


@contextlib.contextmanager
def in_process_client(app: Any, base_url: str) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` whose requests go to ``app`` in-process, with URLs under ``base_url``."""
    from anyio.from_thread import start_blocking_portal

    with start_blocking_portal() as portal, httpx.Client(
            transport=InProcessTransport(app, portal), base_url=base_url, follow_redirects=False,
            timeout=TIMEOUT) as client:
        yield client


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL (the in-process app answers at the root, whatever path the base has).

    >>> origin_of("https://example.org/fairkg/")
    'https://example.org'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class _Session:
    """The client the probes use, where it goes, and a token that may read restricted files (if any)."""

    client: httpx.Client
    via: str  # said in every detail: "live server at …" or "in-process ASGI app (no server running)"
    token: str | None
    settings: Settings
    responses: dict[str, Any] = field(default_factory=dict)  # shared between probes: the resolved representations

    def url(self, path: str) -> str:
        return str(self.client.base_url.join(path))

    def get(self, path: str, *, accept: str | None = None, method: str = "GET",
            token: str | None = None) -> httpx.Response:
        headers = {"Accept": accept} if accept else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.request(method, path, headers=headers)

    def resolve(self, path: str, *, accept: str) -> list[httpx.Response]:
        """GET ``path`` and follow redirects by hand (at most 5), returning every response in order."""
        chain = [self.get(path, accept=accept)]
        while chain[-1].status_code in REDIRECTS and len(chain) <= 5:
            location = chain[-1].headers.get("location")
            if not location:
                break
            chain.append(self.get(self._local(urljoin(str(chain[-1].request.url), location)), accept=accept))
        return chain

    def _local(self, url: str) -> str:
        """A URL on this service as a path on the client (IRIs under the base IRI included)."""
        base = self.settings.base_iri.rstrip("/")
        for root in (str(self.client.base_url).rstrip("/"), base):
            if url == root or url.startswith(root + "/"):
                return url[len(root):] or "/"
        return url

    def path_of(self, url: str) -> str | None:
        """The path of one of this registry's URLs (a download URL under the base IRI), or None for others."""
        base = self.settings.base_iri.rstrip("/")
        if url.startswith(base + "/"):
            return url[len(base):]
        return None


# -- the probes -------------------------------------------------------------------------------------------------

Probe = Callable[[_Session, Store, ModelFacts], Observation]


def run_probes(store: Store, settings: Settings, model_iri: str, *, client: httpx.Client | None = None,
               token: str | None = None) -> list[Observation]:
    """Run every probe on ``model_iri``, record the observations in its evidence graph, and return them.

    Args:
        client: the HTTP client to probe through (its ``base_url`` is the service); default: the live server of
            ``settings.home`` if ``server.json`` announces one, else the app in-process on ``store``.
        token: a bearer token that may read restricted files, for ``A1.2`` with a client of your own (the default
            clients bring theirs).

    Returns:
        Every observation made, the registry-level ones (``F1.unique``, ``F4.catalogued``) included.
    """
    facts = model_facts(store, model_iri)
    with _session(store, settings, client, token) as session:
        found = []
        for name, probe in _HTTP_PROBES:
            found.append(_guarded(name, probe, session, store, facts))
    found += _reference_probes(store, facts, settings)
    record_observations(store, found)
    return [*registry_evidence(store, model_iri, settings.base_iri), *found]


@contextlib.contextmanager
def _session(store: Store, settings: Settings, client: httpx.Client | None, token: str | None) -> Iterator[_Session]:
    if client is not None:
        yield _Session(client, f"the service at {client.base_url}", token, settings)
        return
    from fairkg.api.server import read_server_info

    info = read_server_info(settings.home)
    if info is not None:
        with httpx.Client(base_url=str(info["url"]), timeout=TIMEOUT, trust_env=False,
                          follow_redirects=False) as live:
            yield _Session(live, f"the live server at {info['url']}", token or info.get("token"), settings)
        return
    from fairkg.api.app import create_app

    own = secrets.token_urlsafe(24)  # the probe's own admin token: it may read restricted files in-process only
    app = create_app(settings, store=store, admin_tokens=[own])
    with in_process_client(app, origin_of(settings.base_iri)) as local:
        yield _Session(local, "the in-process ASGI app (no server running)", own, settings)


def _guarded(name: str, probe: Callable[..., Observation], session: _Session | None, store: Store,
             facts: ModelFacts, **kwargs: Any) -> Observation:
    """Run one probe; one that raises could not observe anything: not-checked, with the reason."""
    try:
        return probe(session, store, facts, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure of the probe itself is "could not be checked"
        log.warning("probe %s on %s could not run: %s", name, facts.iri, exc)
        where = f" ({session.via})" if session is not None else ""
        return observe(facts.iri, name, "not-checked",
                       detail=f"the probe could not run{where}: {type(exc).__name__}: {exc}")


def _line(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url} -> {response.status_code}"


def _chain_text(chain: list[httpx.Response]) -> str:
    steps = [f"{chain[0].request.method} {chain[0].request.url} -> {chain[0].status_code}"]
    steps += [f"{r.request.url.raw_path.decode()} -> {r.status_code}" for r in chain[1:]]
    return " -> ".join(steps)


def _media(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _resolved(session: _Session, facts: ModelFacts) -> dict[str, list[httpx.Response]]:
    """The identifier resolved in every representation (once per session, shared by the probes)."""
    if "chains" not in session.responses:
        session.responses["chains"] = {name: session.resolve(facts.identifier_path, accept=media)
                                       for name, media in REPRESENTATIONS}
    return session.responses["chains"]


def _probe_resolves(session: _Session, store: Store, facts: ModelFacts) -> Observation:
    chains = _resolved(session, facts)
    request = f"GET {session.url(facts.identifier_path)}"
    first = chains["html"][0].status_code
    problems, seen = [], []
    for name, media in REPRESENTATIONS:
        chain = chains[name]
        last = chain[-1]
        if chain[0].status_code not in REDIRECTS:
            problems.append(f"Accept {media}: {_line(chain[0])} (expected a 3xx redirect to the model's page)")
            continue
        if last.status_code != 200:
            problems.append(f"Accept {media}: {_chain_text(chain)} (expected 200 at the end)")
            continue
        if _media(last) != media:
            problems.append(f"Accept {media}: answered {_media(last) or 'no Content-Type'}")
            continue
        error = _parse_error(name, last)
        if error:
            problems.append(f"Accept {media}: {error}")
            continue
        seen.append(f"{media} {chain[0].status_code}->{last.status_code}")
    if problems:
        return observe(facts.iri, "A1.resolves", "failed", request=request, status=first,
                       detail=f"{'; '.join(problems)} (via {session.via})")
    return observe(facts.iri, "A1.resolves", "passed", request=request, status=first,
                   detail=f"{_chain_text(chains['html'])}; by Accept: {', '.join(seen)} (via {session.via})")


def _parse_error(name: str, response: httpx.Response) -> str | None:
    """Why a representation does not parse as what it claims, or None."""
    try:
        if name == "turtle":
            Graph().parse(data=response.text, format="turtle")
        elif name in ("jsonld", "datacite-json"):
            json.loads(response.text)
        elif name == "html" and "<html" not in response.text[:2000].lower():
            return "the HTML page has no <html> element"
    except Exception as exc:  # noqa: BLE001 - any parser error means "does not parse"
        return f"does not parse as {name}: {exc}"
    return None


_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[A-Za-z*-]+\s*=\s*(?:"[^"]*"|[^;,\s]+))*)')
_PARAM = re.compile(r'([A-Za-z*-]+)\s*=\s*(?:"([^"]*)"|([^;,\s]+))')


def parse_links(headers: httpx.Headers) -> list[tuple[str, str, dict[str, str]]]:
    """Every link-value of the ``Link`` headers (RFC 8288): (target, rel, parameters), one per rel.

    >>> parse_links(httpx.Headers({"link": '<a>; rel="cite-as", </b>; rel="describedby item"; type="text/turtle"'}))
    [('a', 'cite-as', {'rel': 'cite-as'}), ('/b', 'describedby', {'rel': 'describedby item', 'type': 'text/turtle'}), \
('/b', 'item', {'rel': 'describedby item', 'type': 'text/turtle'})]
    """
    found = []
    for value in headers.get_list("link"):
        for match in _LINK.finditer(value):
            params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                      for m in _PARAM.finditer(match.group(2))}
            for rel in params.get("rel", "").split():
                found.append((match.group(1), rel.lower(), params))
    return found


def _probe_signposting(session: _Session, store: Store, facts: ModelFacts) -> Observation:
    chain = _resolved(session, facts)["html"]
    landing = chain[-1]
    request = f"GET {landing.request.url}"
    if landing.status_code != 200:
        return observe(facts.iri, "A1.signposting", "not-checked", request=request, status=landing.status_code,
                       detail=f"no landing page to read links from: {_chain_text(chain)} (see A1.resolves; via "
                       f"{session.via})")
    links = parse_links(landing.headers)
    rels: dict[str, list[str]] = {}
    for target, rel, _ in links:
        rels.setdefault(rel, []).append(target)
    problems = []
    if facts.cite_as not in rels.get("cite-as", []):
        found = ", ".join(rels.get("cite-as", [])) or "none"
        problems.append(f"no rel=cite-as link to {facts.cite_as} (found: {found})")
    if not rels.get("describedby"):
        problems.append("no rel=describedby link to a metadata record")
    if not rels.get("type"):
        problems.append("no rel=type link")
    if facts.license and facts.license not in rels.get("license", []):
        problems.append(f"no rel=license link to {facts.license}, the record's licence")
    if facts.downloads and not facts.withdrawn:
        items = {urljoin(str(landing.request.url), t) for t in rels.get("item", [])}
        missing = [u for u in facts.downloads
                   if (p := session.path_of(u)) is not None and session.url(p) not in items and u not in items]
        if missing:
            problems.append(f"no rel=item link to {', '.join(missing)}")
    broken = []
    for target in rels.get("describedby", []):
        answer = session.get(session._local(urljoin(str(landing.request.url), target)))
        if answer.status_code != 200:
            broken.append(f"{target} -> {answer.status_code}")
    if broken:
        problems.append(f"describedby links that do not answer 200: {', '.join(broken)}")
    counts = ", ".join(f"{rel} x{len(targets)}" for rel, targets in sorted(rels.items()))
    if problems:
        return observe(facts.iri, "A1.signposting", "failed", request=request, status=landing.status_code,
                       detail=f"{'; '.join(problems)}; links seen: {counts or 'none'} (via {session.via})")
    return observe(facts.iri, "A1.signposting", "passed", request=request, status=landing.status_code,
                   detail=f"Link header: {counts}; every describedby record answers 200 (via {session.via})")


def _probe_identifier_in_metadata(session: _Session, store: Store, facts: ModelFacts) -> Observation:
    probe = "F3.metadata-has-identifier"
    chains = _resolved(session, facts)
    request = f"GET {session.url(facts.identifier_path)}"
    if not facts.identifier:
        return observe(facts.iri, probe, "failed", request=request,
                       detail="the model states no identifier (dcterms:identifier) for its metadata to contain")
    unresolved = [media for name, media in REPRESENTATIONS if name != "html" and chains[name][-1].status_code != 200]
    if unresolved:
        return observe(facts.iri, probe, "not-checked", request=request, status=chains["turtle"][-1].status_code,
                       detail=f"the identifier did not resolve to {', '.join(unresolved)} (see A1.resolves; via "
                       f"{session.via})")
    wanted = facts.identifier.lower()
    missing = []
    turtle = Graph().parse(data=chains["turtle"][-1].text, format="turtle")
    if not any(isinstance(o, Literal) and str(o).lower() == wanted for o in turtle.objects(URIRef(facts.iri), None)):
        missing.append("Turtle (no literal of the model equals it)")
    if wanted not in json.dumps(json.loads(chains["jsonld"][-1].text)).lower():
        missing.append("JSON-LD")
    datacite = json.loads(chains["datacite-json"][-1].text)
    if facts.scheme == "doi":
        if str(datacite.get("doi", "")).lower() != wanted:
            missing.append(f"DataCite JSON (doi is {datacite.get('doi')!r})")
    elif wanted not in json.dumps(datacite).lower():
        missing.append("DataCite JSON")
    status = chains["turtle"][-1].status_code
    if missing:
        return observe(facts.iri, probe, "failed", request=request, status=status,
                       detail=f"the metadata served for {facts.identifier} do not contain it: {', '.join(missing)} "
                       f"(via {session.via})")
    return observe(facts.iri, probe, "passed", request=request, status=status,
                   detail=f"{facts.identifier} is in the Turtle (a literal of the model), the JSON-LD and the "
                   f"DataCite JSON served for it (via {session.via})")


def _probe_open_protocol(session: _Session, store: Store, facts: ModelFacts) -> Observation:
    probe = "A1.1.open-protocol"
    problems = []
    resolver = str(session.client.base_url)
    for label, url in (("the resolver", resolver), ("the model's IRI", facts.iri),
                       *(("download URL", u) for u in facts.downloads)):
        if urlsplit(url).scheme not in ("http", "https"):
            problems.append(f"{label} {url} is not an http(s) URL")
    chains = _resolved(session, facts)
    metadata = chains["turtle"]
    if metadata[-1].status_code != 200:
        problems.append(f"a plain GET did not retrieve the metadata: {_chain_text(metadata)}")
    seen = [f"metadata {_chain_text(metadata)}"]
    local = [p for u in facts.downloads if (p := session.path_of(u)) is not None]
    if facts.withdrawn:
        seen.append("files not tried: the model was withdrawn")
    elif local:
        answer = session.get(local[0], method="HEAD")
        seen.append(_line(answer))
        challenge = answer.headers.get("www-authenticate", "")
        if answer.status_code == 200:
            pass
        elif answer.status_code == 401 and facts.restricted and challenge.lower().startswith("bearer"):
            seen[-1] += " (restricted: the standard RFC 6750 Bearer challenge)"
        else:
            problems.append(f"a plain request for a file answered {answer.status_code}: {_line(answer)}")
    request = f"GET {session.url(facts.identifier_path)}"
    status = metadata[0].status_code
    if problems:
        return observe(facts.iri, probe, "failed", request=request, status=status,
                       detail=f"{'; '.join(problems)} (via {session.via})")
    return observe(facts.iri, probe, "passed", request=request, status=status,
                   detail=f"http(s) throughout, requests with nothing but Accept: {'; '.join(seen)} "
                   f"(via {session.via})")


def _probe_openapi(session: _Session, store: Store, facts: ModelFacts) -> Observation:
    probe = "A1.1.openapi"
    answer = session.get("/openapi.json", accept="application/json")
    request = f"GET {answer.request.url}"
    if answer.status_code != 200:
        return observe(facts.iri, probe, "failed", request=request, status=answer.status_code,
                       detail=f"no OpenAPI description: /openapi.json answered {answer.status_code} "
                       f"(via {session.via})")
    try:
        doc = answer.json()
    except ValueError as exc:
        return observe(facts.iri, probe, "failed", request=request, status=answer.status_code,
                       detail=f"/openapi.json is not JSON: {exc} (via {session.via})")
    version = str(doc.get("openapi", "")) if isinstance(doc, dict) else ""
    paths = doc.get("paths", {}) if isinstance(doc, dict) else {}
    paths = paths if isinstance(paths, dict) else {}
    problems = []
    if not version.startswith("3."):
        problems.append(f"not an OpenAPI 3 document (openapi: {version or 'missing'})")
    if "/sparql" not in paths:
        problems.append("it does not describe /sparql")
    resolver = [p for p in paths if p.startswith(("/doi/", "/ark:", "/resolve", "/id/"))]
    if not resolver:
        problems.append("it does not describe the resolver (/doi/…, /resolve, /id/…)")
    if problems:
        return observe(facts.iri, probe, "failed", request=request, status=answer.status_code,
                       detail=f"/openapi.json: {'; '.join(problems)} (via {session.via})")
    extra = ", including /v2" if any(p.startswith("/v2") for p in paths) else ""
    return observe(facts.iri, probe, "passed", request=request, status=answer.status_code,
                   detail=f"OpenAPI {version} with {len(paths)} paths: /sparql, {', '.join(sorted(resolver))}{extra} "
                   f"(via {session.via})")


def _probe_access(session: _Session, store: Store, facts: ModelFacts) -> Observation:
    probe = "A1.2.restricted-refused"
    metadata = session.get(f"/models/{facts.key}", accept="text/turtle")
    meta_line = _line(metadata)
    local = [p for u in facts.downloads if (p := session.path_of(u)) is not None]
    if facts.withdrawn:
        return observe(facts.iri, probe, "not-checked", request=f"GET {metadata.request.url}",
                       status=metadata.status_code,
                       detail="the model was withdrawn: its files are gone for everyone, so access control cannot "
                       f"be observed; metadata: {meta_line} (via {session.via})")
    if not local:
        return observe(facts.iri, probe, "not-checked", request=f"GET {metadata.request.url}",
                       status=metadata.status_code,
                       detail=f"the model has no file served here to try; metadata: {meta_line} (via {session.via})")
    anonymous = session.get(local[0], method="HEAD")
    request = f"HEAD {anonymous.request.url} (no token)"
    problems = []
    if metadata.status_code != 200:
        problems.append(f"metadata must be served to everyone, but {meta_line}")
    if facts.restricted:
        challenge = anonymous.headers.get("www-authenticate", "")
        if anonymous.status_code != 401:
            problems.append(f"the model is restricted, yet its file answered {anonymous.status_code} without a token")
        elif not challenge.lower().startswith("bearer"):
            problems.append(f"401 without a WWW-Authenticate: Bearer challenge (got {challenge!r})")
        with_token = "with a token: not tried (the probe holds no token)"
        if session.token and not problems:
            granted = session.get(local[0], method="HEAD", token=session.token)
            with_token = f"with a token: {granted.status_code}"
            if granted.status_code != 200:
                problems.append(f"a valid token did not get the file: {_line(granted)}")
        if problems:
            return observe(facts.iri, probe, "failed", request=request, status=anonymous.status_code,
                           detail=f"{'; '.join(problems)} (via {session.via})")
        return observe(facts.iri, probe, "passed", request=request, status=anonymous.status_code,
                       detail=f"restricted: the file answered 401 with {challenge!r} without a token, {with_token}; "
                       f"metadata open to all: {meta_line} (via {session.via})")
    if anonymous.status_code != 200:
        problems.append(f"the model is public, yet its file answered {anonymous.status_code} without a token")
    if problems:
        return observe(facts.iri, probe, "failed", request=request, status=anonymous.status_code,
                       detail=f"{'; '.join(problems)} (via {session.via})")
    return observe(facts.iri, probe, "passed", request=request, status=anonymous.status_code,
                   detail=f"public: no authentication is necessary, and none is asked: the file answered 200 without "
                   f"a token; metadata: {meta_line} (via {session.via})")


def _search(session: _Session, facts: ModelFacts, text: str) -> tuple[httpx.Response, bool, int]:
    """Search for ``text`` page by page; (first response, found, total hits)."""
    first: httpx.Response | None = None
    total = 0
    for page in range(1, MAX_SEARCH_PAGES + 1):
        query = httpx.QueryParams({"q": text, "format": "json", "size": "100", "page": str(page)})
        answer = session.get(f"/search?{query}", accept="application/json")
        first = first or answer
        if answer.status_code != 200:
            return answer, False, 0
        data = answer.json()
        total = int(data.get("total", 0))
        if any(hit.get("iri") == facts.iri for hit in data.get("results", [])):
            return first, True, total
        if page * 100 >= total:
            break
    assert first is not None
    return first, False, total


def _probe_search_title(session: _Session, store: Store, facts: ModelFacts) -> Observation:
    probe = "F4.search-title"
    if not facts.title:
        return observe(facts.iri, probe, "failed", request="GET /search",
                       detail="the model has no title (dcterms:title) to search for: add `title:` to the card")
    first, found, total = _search(session, facts, facts.title)
    request = f"GET {first.request.url}"
    if found:
        return observe(facts.iri, probe, "passed", request=request, status=first.status_code,
                       detail=f"searching for the title {facts.title!r} finds the model among {total} results "
                       f"(via {session.via})")
    return observe(facts.iri, probe, "failed", request=request, status=first.status_code,
                   detail=f"searching for the title {facts.title!r} does not find the model ({total} results, "
                   f"status {first.status_code}; via {session.via})")


def _probe_search_keyword(session: _Session, store: Store, facts: ModelFacts) -> Observation:
    probe = "F4.search-keyword"
    if not facts.keywords:
        return observe(facts.iri, probe, "failed", request="GET /search",
                       detail="the model has no keywords (dcat:keyword), so no keyword search can find it: add "
                       "`keywords:` to the card")
    tried = []
    first: httpx.Response | None = None
    for keyword in facts.keywords:
        answer, found, total = _search(session, facts, keyword)
        first = first or answer
        if found:
            return observe(facts.iri, probe, "passed", request=f"GET {answer.request.url}",
                           status=answer.status_code,
                           detail=f"searching for the keyword {keyword!r} finds the model among {total} results "
                           f"(via {session.via})")
        tried.append(f"{keyword!r} ({answer.status_code}, {total} results)")
    assert first is not None
    return observe(facts.iri, probe, "failed", request=f"GET {first.request.url}", status=first.status_code,
                   detail=f"searching for its keywords does not find the model: {', '.join(tried)} "
                   f"(via {session.via})")


class _JsonLdScripts(html.parser.HTMLParser):
    """The text of every ``<script type="application/ld+json">`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and (dict(attrs).get("type") or "").split(";")[0].strip().lower() == "application/ld+json":
            self._inside = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.scripts[-1] += data


def _probe_jsonld(session: _Session, store: Store, facts: ModelFacts) -> Observation:
    probe = "F4.jsonld-landing"
    chain = _resolved(session, facts)["html"]
    landing = chain[-1]
    request = f"GET {landing.request.url}"
    if landing.status_code != 200:
        return observe(facts.iri, probe, "not-checked", request=request, status=landing.status_code,
                       detail=f"no landing page to read: {_chain_text(chain)} (see A1.resolves; via {session.via})")
    parser = _JsonLdScripts()
    parser.feed(landing.text)
    if not parser.scripts:
        return observe(facts.iri, probe, "failed", request=request, status=landing.status_code,
                       detail=f"the landing page embeds no <script type=\"application/ld+json\"> (via {session.via})")
    problems = []
    for text in parser.scripts:
        try:
            doc = json.loads(text)
        except ValueError as exc:
            problems.append(f"a JSON-LD script does not parse: {exc}")
            continue
        nodes = doc if isinstance(doc, list) else doc.get("@graph", [doc]) if isinstance(doc, dict) else []
        for node in nodes:
            if not isinstance(node, dict):
                continue
            named = node.get("@id") == facts.iri or (facts.identifier and facts.identifier.lower() in
                                                      json.dumps(node).lower())
            if named and node.get("name"):
                return observe(facts.iri, probe, "passed", request=request, status=landing.status_code,
                               detail=f"the landing page embeds schema.org JSON-LD: a {node.get('@type')} named "
                               f"{node.get('name')!r} with @id {node.get('@id')} (via {session.via})")
    problems.append("no JSON-LD node names the model (its IRI or identifier, and a name)")
    return observe(facts.iri, probe, "failed", request=request, status=landing.status_code,
                   detail=f"{'; '.join(problems)} (via {session.via})")


def _probe_tombstone(session: _Session, store: Store, facts: ModelFacts) -> Observation:
    if facts.withdrawn:
        return _tombstone_observed(session, facts, copy=False)
    with _withdrawn_copy(store, session.settings, facts) as copy_session:
        return _tombstone_observed(copy_session, facts, copy=True)


def _tombstone_observed(session: _Session, facts: ModelFacts, *, copy: bool) -> Observation:
    probe = "A2.tombstone-resolves"
    where = "on a throw-away copy withdrawn in memory" if copy else "on the withdrawn model"
    chain = session.resolve(facts.identifier_path, accept="application/json")
    request = f"GET {session.url(facts.identifier_path)}"
    problems, seen = [], [_chain_text(chain)]
    last = chain[-1]
    if chain[0].status_code not in REDIRECTS or last.status_code != 200:
        problems.append(f"the withdrawn model's identifier does not resolve: {_chain_text(chain)}")
    else:
        try:
            withdrawn = bool(last.json().get("withdrawn"))
        except ValueError:
            withdrawn = False
        if not withdrawn:
            problems.append("its metadata do not say it was withdrawn (JSON \"withdrawn\": true)")
        else:
            seen[-1] += " (withdrawn: true)"
    page = session.get(f"/models/{facts.key}", accept="text/html")
    if page.status_code != 200:
        problems.append(f"its landing page answers {page.status_code}")
    for url in facts.downloads:
        path = session.path_of(url)
        if path is None:
            continue
        answer = session.get(path, method="HEAD")
        seen.append(_line(answer))
        if answer.status_code != 410:
            problems.append(f"its file {path} answered {answer.status_code}, not 410 Gone")
    status = chain[0].status_code
    if problems:
        return observe(facts.iri, probe, "failed", request=request, status=status,
                       detail=f"{where}: {'; '.join(problems)} (via {session.via})")
    return observe(facts.iri, probe, "passed", request=request, status=status,
                   detail=f"{where}, the identifier still resolves to the tombstone and the files are gone: "
                   f"{'; '.join(seen)} (via {session.via})")


@contextlib.contextmanager
def _withdrawn_copy(store: Store, settings: Settings, facts: ModelFacts) -> Iterator[_Session]:
    """The model's graphs copied into an in-memory store with its files linked into a temporary home, withdrawn
    there (:func:`fairkg.kg.register.withdraw`), served by an in-process app: the real registry is untouched."""
    from fairkg.api.app import create_app
    from fairkg.kg import register as registration
    from fairkg.kg.store import open_store

    model = URIRef(facts.iri)
    copy = open_store("oxigraph:")
    copy.replace_graph(facts.iri, store.get_graph(facts.iri))
    for row in store.query(_LINKED_GRAPHS.replace("?model", model.n3())).bindings():
        copy.replace_graph(str(row["g"]), store.get_graph(str(row["g"])))
    with tempfile.TemporaryDirectory(prefix="fairkg-a2-probe-") as folder:
        home = Path(folder)
        for row in store.query(_LOCATIONS.replace("?model", model.n3())).bindings():
            _link_file(settings.home, home, str(row["loc"]))
        copy_settings = settings.model_copy(update={"home": home, "store": "oxigraph:", "admin_token": None})
        registration.withdraw(copy, facts.iri, home=home, base_iri=settings.base_iri, reason=A2_REASON)
        app = create_app(copy_settings, store=copy)
        with in_process_client(app, origin_of(settings.base_iri)) as client:
            yield _Session(client, "an in-process ASGI app on the copy", None, copy_settings)
    copy.close()


def _link_file(source_home: Path, target_home: Path, location: str) -> None:
    """Make ``location`` exist under ``target_home``: a hard link to the stored file (no copy of the bytes), or a
    copy where links are impossible; nothing when the file is missing (the copy then has none either)."""
    source = (source_home / location).resolve()
    if source_home.resolve() not in source.parents or not source.is_file():
        return
    target = target_home / location
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


# -- R1: the reference input through every runtime here --------------------------------------------------------


def _reference_probes(store: Store, facts: ModelFacts, settings: Settings) -> list[Observation]:
    """``R1.reference-reproduces`` and ``R1.consistent-across-runtimes`` from one run of the reference input
    through every runtime, device and distribution here (which also records the consistency evidence)."""
    request = "fairkg.runners.check_model: the reference input through every runtime and device here"
    try:
        reproduces, report = _reference(store, facts, settings, request)
    except Exception as exc:  # noqa: BLE001 - a probe that breaks could not check anything
        log.warning("the R1 probes on %s could not run: %s", facts.iri, exc)
        why = f"the probe could not run: {type(exc).__name__}: {exc}"
        return [observe(facts.iri, name, "not-checked", request=request, detail=why)
                for name in ("R1.reference-reproduces", "R1.consistent-across-runtimes")]
    return [reproduces, _consistent(facts, report, reproduces, request)]


def _reference(store: Store, facts: ModelFacts, settings: Settings, request: str) -> tuple[Observation, Any]:
    probe = "R1.reference-reproduces"
    from fairkg.kg.distributions import inference_record
    from fairkg.runners import check_model
    from fairkg.runners.consistency import read_reference
    from fairkg.runners.errors import ChecksumError, InputError

    record = inference_record(store, facts.iri)
    if record.withdrawn:
        return observe(facts.iri, probe, "not-checked", request=request,
                       detail="the model was withdrawn: its files are gone, nothing can run"), None
    if record.reference is None:
        return observe(facts.iri, probe, "failed", request=request,
                       detail="the model has no reference example to reproduce: add a reference input with its "
                       "expected output and tolerance (`reference:` in the card)"), None
    try:
        read_reference(settings.home, record.reference)
    except ChecksumError as exc:
        return observe(facts.iri, probe, "failed", request=request, detail=str(exc)), None
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own errors for a file it cannot read
        return observe(facts.iri, probe, "failed", request=request,
                       detail=f"the reference example {record.reference.iri} cannot be read: {exc}; publish it as a "
                       "safetensors file of input.<name> and output.<name> tensors"), None
    try:
        report = check_model(store, home=settings.home, base_iri=settings.base_iri, model_iri=facts.iri)
    except (ChecksumError, InputError) as exc:
        return observe(facts.iri, probe, "failed", request=request, detail=str(exc)), None
    ran = [run for run in report.runs if run.error is None]
    skipped = "; ".join(f"{name}: {why}" for name, why in report.skipped)
    if not ran:
        errors = "; ".join(f"{run.label}: {run.error}" for run in report.runs)
        reasons = "; ".join(part for part in (errors, skipped) if part) or "no runtime is installed"
        return observe(facts.iri, probe, "not-checked", request=request,
                       detail=f"no runtime here could run the model: {reasons}"), report
    beyond = [run for run in ran if not run.within_tolerance]
    if beyond:
        worst = ", ".join(f"{run.label} max |Δ| {run.max_abs:.3g}" for run in beyond)
        return observe(facts.iri, probe, "failed", request=request,
                       detail=f"the output deviates from the reference output beyond the tolerance "
                       f"{report.tolerance:g}: {worst}; check the reference example and the model's files"), report
    deviations = ", ".join(f"{run.label} max |Δ| {run.max_abs:.3g}" for run in ran)
    return observe(facts.iri, probe, "passed", request=request,
                   detail=f"within the tolerance {report.tolerance:g} on every runtime that ran: {deviations}"
                   + (f"; not available here: {skipped}" if skipped else "")), report


def _consistent(facts: ModelFacts, report: Any, reproduces: Observation, request: str) -> Observation:
    probe = "R1.consistent-across-runtimes"
    if report is None:
        return observe(facts.iri, probe, "not-checked", request=request,
                       detail=f"the reference input was not run: {reproduces.detail}")
    if not report.runs:
        return observe(facts.iri, probe, "not-checked", request=request, detail="no runtime here could run it")
    failed = [run for run in report.runs if not run.within_tolerance]
    labels = ", ".join(run.label for run in report.runs)
    pairs = "; ".join(f"{p.first} vs {p.second} max |Δ| {p.max_abs:.3g}" for p in report.pairs)
    if failed:
        what = ", ".join(f"{run.label}: {run.error or f'max |Δ| {run.max_abs:.3g}'}" for run in failed)
        return observe(facts.iri, probe, "failed", request=request,
                       detail=f"not every runtime reproduces the reference within {report.tolerance:g}: {what}")
    return observe(facts.iri, probe, "passed", request=request,
                   detail=f"{len(report.runs)} run(s) ({labels}) reproduce the reference within {report.tolerance:g}"
                   + (f"; pairwise: {pairs}" if pairs else ""))


_HTTP_PROBES: tuple[tuple[str, Probe], ...] = (
    ("A1.resolves", _probe_resolves),
    ("A1.signposting", _probe_signposting),
    ("F3.metadata-has-identifier", _probe_identifier_in_metadata),
    ("A1.1.open-protocol", _probe_open_protocol),
    ("A1.1.openapi", _probe_openapi),
    ("A1.2.restricted-refused", _probe_access),
    ("F4.search-title", _probe_search_title),
    ("F4.search-keyword", _probe_search_keyword),
    ("F4.jsonld-landing", _probe_jsonld),
    ("A2.tombstone-resolves", _probe_tombstone),
)

__all__ = ["InProcessTransport", "ModelFacts", "in_process_client", "model_facts", "origin_of", "parse_links",
           "run_probes"]
