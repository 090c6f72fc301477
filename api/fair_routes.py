"""FAIR reports over HTTP (DESIGN.md, "The service": FAIR reports).

* ``GET /models/{key}/fair``: the model's **stored** verdict (:func:`fairkg.kg.fair.assessment_from_graph`), by
  ``Accept`` or ``?format=``: ``application/json`` (the same JSON as ``fairkg assess ID --format json``),
  ``text/html`` (a report: per principle a Pass / Fail / Not checked badge with the reasons and what to add, and the
  evidence the probes recorded), or ``text/turtle`` (the stored verdict graph: the W3C ``sh:ValidationReport`` and a
  ``dqv:QualityMeasurement`` per principle; the ``FAIR-Report`` header says so). 404 for an unknown key, and for a
  model never assessed (the detail says how to assess it).
* ``POST /models/{key}/fair`` (a publisher or admin token): run the probes, assess, store the verdict, answer the
  JSON. The probes go to the live server of the home when one is announced, else to the app in-process.
* ``GET /fair``: the registry overview, every model x principle (HTML, or JSON by ``Accept``).

:func:`fair_badges` prepares what ``fair_badges.html`` shows on a model's page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from rdflib import URIRef

from fairkg.api.auth import Principal, require_role
from fairkg.api.deps import SettingsDep, StoreDep
from fairkg.api.problems import PROBLEM_BASE, ProblemError
from fairkg.api.sparql_results import Format, negotiate
from fairkg.kg.evidence import PROBES, Observation, observations
from fairkg.kg.fair import PRINCIPLE_TITLES, PRINCIPLES, Assessment, assessment_from_graph, verdict_graph_name
from fairkg.kg.identifiers import key_of, resource_iri
from fairkg.kg.namespaces import SPARQL_PREFIXES, bind_prefixes
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import Store

router = APIRouter(tags=["FAIR"])

JSON = Format("application/json", "json", "application/json")
HTML = Format("text/html", "html", "text/html; charset=utf-8")
TURTLE = Format("text/turtle", "turtle", "text/turtle; charset=utf-8")
OFFERED = (JSON, HTML, TURTLE)
#: how each status reads: never colour alone
LABELS = {"pass": "Pass", "fail": "Fail", "not-checked": "Not checked", None: "Not assessed"}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_IS_MODEL = SPARQL_PREFIXES + "ASK { GRAPH ?model { ?model a mls:Model } }"
_TITLE = SPARQL_PREFIXES + "SELECT ?title WHERE { GRAPH ?model { ?model dcterms:title ?title } } LIMIT 1"
_MODELS = SPARQL_PREFIXES + """
SELECT ?model ?title ?identifier WHERE {
  GRAPH ?model {
    ?model a mls:Model .
    OPTIONAL { ?model dcterms:title ?title }
    OPTIONAL { ?model dcterms:identifier ?identifier }
  }
} ORDER BY LCASE(STR(?title)) ?model"""
_OUTCOMES = SPARQL_PREFIXES + """
SELECT ?model ?principle ?outcome WHERE {
  ?measurement a dqv:QualityMeasurement ; dqv:computedOn ?model ; fkg:principle ?principle ; fkg:outcome ?outcome .
}"""
_STATUS_OF = {"https://w3id.org/fairkg/ontology#Passed": "pass", "https://w3id.org/fairkg/ontology#Failed": "fail",
              "https://w3id.org/fairkg/ontology#NotChecked": "not-checked"}
FormatParam = Annotated[str | None, Query(pattern="^(json|html|turtle)$",
                                          description="json, html or turtle; overrides Accept")]


# -- what the pages show --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    """One principle of one model: its status, the text shown (never colour alone) and the reasons."""

    principle: str
    title: str
    status: str | None  # pass | fail | not-checked | None (not assessed)
    label: str
    reasons: tuple[str, ...]
    advice: tuple[str, ...] = ()

    @property
    def css(self) -> str:
        return f"fair-{self.status or 'none'}"

    @property
    def tooltip(self) -> str:
        """The reason, for a ``title`` attribute."""
        head = f"{self.principle} ({self.title}): {self.label.lower()}"
        return head + (": " + " | ".join(self.reasons) if self.reasons else "")


def badges(assessment: Assessment) -> list[Badge]:
    """One :class:`Badge` per principle, in report order."""
    found = []
    for principle in PRINCIPLES:
        result = assessment.principles.get(principle)
        status = result.status if result is not None else None
        reasons = tuple(f.message for f in result.violations) if result is not None else ()
        advice = tuple(f.message for f in result.warnings) if result is not None else ()
        found.append(Badge(principle, PRINCIPLE_TITLES[principle], status, LABELS[status], reasons, advice))
    return found


def fair_badges(store: Store, iri: str) -> dict[str, Any]:
    """What ``fair_badges.html`` shows on a model's page: the stored verdict as badges, the failing principles with
    their reasons, and where the full report is (``assessed`` is False when the model was never assessed)."""
    key = key_of(str(iri))
    assessment = assessment_from_graph(store, str(iri))
    report = f"/models/{key}/fair"
    if assessment is None:
        return {"assessed": False, "report": report, "badges": [], "failing": [], "not_checked": []}
    shown = badges(assessment)
    return {"assessed": True, "report": report, "badges": shown, "passed": assessment.passed,
            "total": assessment.total, "assessed_at": assessment.assessed_at.isoformat(),
            "failing": [b for b in shown if b.status == "fail"],
            "not_checked": [b for b in shown if b.status == "not-checked"]}


# -- one model's report ---------------------------------------------------------------------------------------------


def _model(store: Store, settings: Settings, key: str) -> URIRef:
    """The IRI of the registered model ``key``, or a 404 problem."""
    if _UUID.match(key.lower()):
        iri = resource_iri(settings.base_iri, key.lower())
        if store.query(_IS_MODEL.replace("?model", iri.n3())).boolean:
            return iri
    raise ProblemError(404, f"{key} is not a registered model: /search finds models, /fair lists them",
                       title="Not found", type=PROBLEM_BASE + "not-found")


def _choose(request: Request, format: str | None) -> Format:
    chosen = {"json": JSON, "html": HTML, "turtle": TURTLE}.get(format or "") or negotiate(
        request.headers.get("accept"), OFFERED)
    if chosen is None:
        raise ProblemError(406, "FAIR reports are served as " + ", ".join(f.media_type for f in OFFERED),
                           title="Not acceptable", type=PROBLEM_BASE + "not-acceptable")
    return chosen


@router.get("/models/{key}/fair", summary="A model's FAIR report (the stored verdict)", response_model=None,
            responses={200: {"content": {f.media_type: {} for f in OFFERED}},
                       404: {"description": "No such model, or it was never assessed (problem document)."}})
def fair_report(key: str, request: Request, store: StoreDep, settings: SettingsDep,
                format: FormatParam = None) -> Response:
    """The model's latest stored FAIR verdict: JSON (as ``fairkg assess --format json``), an HTML report, or the
    stored verdict graph in Turtle (SHACL ``sh:ValidationReport`` plus DQV measurements)."""
    from fairkg.api.pages import render

    fmt = _choose(request, format)
    iri = _model(store, settings, key)
    assessment = assessment_from_graph(store, str(iri))
    headers = {"Vary": "Accept", "Link": f'</models/{key_of(str(iri))}>; rel="describes"'}
    how = (f"it has not been assessed yet: run `fairkg assess {key_of(str(iri))}`, or POST /models/{key}/fair "
           "with a publisher token")
    if fmt is HTML:
        return render("fair_report.html", status_code=200 if assessment else 404, headers=headers,
                      **_report_context(store, iri, assessment, how))
    if assessment is None:
        raise ProblemError(404, f"{iri}: {how}", title="Not assessed", type=PROBLEM_BASE + "not-assessed",
                           headers=headers)
    headers["FAIR-Assessed-At"] = assessment.assessed_at.isoformat()
    if fmt is TURTLE:
        name = verdict_graph_name(str(iri))
        graph = bind_prefixes(store.get_graph(name))
        headers["FAIR-Report"] = (f"stored-verdict; graph=<{name}>; contains the SHACL sh:ValidationReport and a "
                                  "dqv:QualityMeasurement per principle")
        return Response(graph.serialize(format="turtle"), media_type=TURTLE.content_type, headers=headers)
    return Response(json.dumps(assessment.to_json(), indent=2), media_type=JSON.content_type, headers=headers)


def _report_context(store: Store, iri: URIRef, assessment: Assessment | None, how: str) -> dict[str, Any]:
    rows = list(store.query(_TITLE.replace("?model", iri.n3())).bindings())
    title = str(rows[0]["title"]) if rows else str(iri)
    key = key_of(str(iri))
    evidence = observations(store, str(iri))
    by_principle: dict[str, list[Observation]] = {}
    for found in evidence:
        probe = PROBES.get(found.probe)
        by_principle.setdefault(probe.principle if probe else "?", []).append(found)
    return {"title": title, "iri": str(iri), "key": key, "assessment": assessment, "how": how,
            "badges": badges(assessment) if assessment else [], "evidence": by_principle,
            "probes": PROBES, "page": f"/models/{key}", "report": f"/models/{key}/fair"}


@router.post("/models/{key}/fair", summary="Assess a model again (probes, SHACL, stored verdict)",
             responses={401: {"description": "No token (problem document)."},
                        403: {"description": "The token lacks the publisher role (problem document)."},
                        404: {"description": "No such model (problem document)."}})
def reassess(key: str, store: StoreDep, settings: SettingsDep,
             principal: Annotated[Principal, Depends(require_role("publisher"))]) -> Response:
    """Run the probes on the model, validate its record against the FAIR shapes and store the verdict, replacing
    the previous one; answers the new verdict as JSON. Needs a publisher (or admin) token."""
    from fairkg.api.cli_fair import assess_model

    iri = _model(store, settings, key)
    assessment = assess_model(store, settings, str(iri))
    return Response(json.dumps(assessment.to_json(), indent=2), media_type=JSON.content_type,
                    headers={"Location": f"/models/{key_of(str(iri))}/fair",
                             "FAIR-Assessed-At": assessment.assessed_at.isoformat()})


# -- the registry overview ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewRow:
    """One model in the overview: its page, report and a badge per principle."""

    iri: str
    key: str
    title: str
    identifier: str | None
    badges: list[Badge]
    passed: int
    assessed: bool


def overview_rows(store: Store) -> list[OverviewRow]:
    """Every registered model with the stored status of each principle (one query for the statuses)."""
    statuses: dict[str, dict[str, str]] = {}
    for row in store.query(_OUTCOMES).bindings():
        status = _STATUS_OF.get(str(row["outcome"]))
        if status:
            statuses.setdefault(str(row["model"]), {})[str(row["principle"])] = status
    found = []
    for row in store.query(_MODELS).bindings():
        iri = str(row["model"])
        mine = statuses.get(iri, {})
        shown = [Badge(p, PRINCIPLE_TITLES[p], mine.get(p), LABELS[mine.get(p)], ()) for p in PRINCIPLES]
        found.append(OverviewRow(iri, key_of(iri), str(row.get("title") or iri),
                                 str(row["identifier"]) if row.get("identifier") is not None else None, shown,
                                 sum(b.status == "pass" for b in shown), bool(mine)))
    return found


@router.get("/fair", summary="FAIR overview: every model x principle", response_model=None,
            responses={200: {"content": {"text/html": {}, "application/json": {}}}})
def fair_overview(request: Request, store: StoreDep, format: Annotated[
        str | None, Query(pattern="^(json|html)$", description="json or html; overrides Accept")] = None) -> Response:
    """The stored verdicts of every model, as a principle x model matrix; each cell links to the model's report."""
    from fairkg.api.pages import render

    chosen = {"json": JSON, "html": HTML}.get(format or "") or negotiate(request.headers.get("accept"), (HTML, JSON))
    if chosen is None:
        raise ProblemError(406, "the FAIR overview is served as text/html or application/json",
                           title="Not acceptable", type=PROBLEM_BASE + "not-acceptable")
    rows = overview_rows(store)
    if chosen is JSON:
        data = {"principles": {p: PRINCIPLE_TITLES[p] for p in PRINCIPLES},
                "models": [{"model": r.iri, "key": r.key, "title": r.title, "identifier": r.identifier,
                            "assessed": r.assessed, "passed": r.passed, "total": len(PRINCIPLES),
                            "report": f"/models/{r.key}/fair",
                            "principles": {b.principle: b.status or "not-assessed" for b in r.badges}}
                           for r in rows]}
        return Response(json.dumps(data, indent=2), media_type=JSON.content_type, headers={"Vary": "Accept"})
    return render("fair_overview.html", rows=rows, principles=PRINCIPLES, titles=PRINCIPLE_TITLES,
                  headers={"Vary": "Accept"})


__all__ = ["Badge", "OverviewRow", "badges", "fair_badges", "overview_rows", "router"]
