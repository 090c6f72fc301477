"""Property-based fuzzing of every operation in the service's OpenAPI document with schemathesis, in-process (ASGI),
against a registry holding a model that really runs.

* no operation answers 5xx, whatever it is sent (pages included);
* every 4xx/5xx is a problem document (``application/problem+json`` with ``type``, ``title`` and ``status``), and
  under ``/v2`` it also carries the protocol's ``error`` member;
* JSON answers match the response schema the document declares; pages (HTML on success, by design) are left out of
  that check only.

Three passes over every operation: positive data, negative data, and positive data with the path parameters set to
the keys of real records (so that routes reach data and not only 404s). Requests carry a publisher token
(registration is reached; withdrawal and SPARQL updates, admin only, are not).


This drives schemathesis through its Python API (``as_strategy`` under ``hypothesis.given``), not its pytest
``parametrize``: schemathesis 4.32.5's lazy pytest integration reads ``request.node._nodeid``, which pytest 9 no longer
has.

Reduced: 8 examples per operation and pass, derandomized, within a 35 s budget for the whole module (cases past it
pass through unchecked; the printed counts say how many ran); ``FAIRKG_FULL_LOAD=1``: 100 random examples each and a
10 minute budget (about 4800 cases, 3 minutes here).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra: pip install -e .[dev]")

import hypothesis  # noqa: E402 - schemathesis brings it
from _served import (  # noqa: E402 - after the importorskip
    BASE_IRI,
    FULL,
    PROBLEM,
    write_dataset,
    write_runnable_model,
)

from fairkg.kg.register import register  # noqa: E402
from fairkg.kg.settings import Settings  # noqa: E402
from fairkg.kg.store import Store, open_store  # noqa: E402
from fairkg.kg.tokens import create_token  # noqa: E402

GenerationMode = schemathesis.GenerationMode

EXAMPLES = 100 if FULL else 8
BUDGET = 600.0 if FULL else 35.0
#: operations that answer HTML (or a file) on success by design, negotiated: not held to a JSON response schema, and
#: allowed to answer a 4xx as an HTML page when the client takes HTML
PAGES = {"/", "/search", "/query", "/query.{ext}", "/catalog", "/id/{uuid}", "/id/{uuid}/{filename}",
         "/models/{key}", "/artifacts/{dist_key}/{filename}", "/doi/{prefix}/{suffix}", "/ark:/{naan}/{name}",
         "/minid:{ident}", "/resolve", "/models/{key}/fair", "/fair"}

#: operations whose input is a free-form string, so schemathesis spends its time failing to make invalid data (26 s
#: for POST /sparql, then hypothesis's Unsatisfiable); their bad inputs are in test_bad_inputs.py
NO_NEGATIVE = {"POST /sparql"}


@dataclass
class Registry:
    app: Any
    store: Store
    keys: dict[str, str]  # path parameter name -> the key of a real record for it
    started: float


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    from fairkg.api.app import create_app

    root = tmp_path_factory.mktemp("schemathesis")
    home = root / "home"
    store = open_store("oxigraph:")
    register(store, write_dataset(root / "data"), home=home, base_iri=BASE_IRI)
    model = register(store, write_runnable_model(root / "model"), home=home, base_iri=BASE_IRI)
    row = next(iter(store.query(
        "SELECT ?d WHERE { <" + model.iri + "> <http://www.w3.org/ns/dcat#distribution> ?d }").bindings()))
    dist_key = str(row["d"]).rsplit("/", 1)[1]
    app = create_app(Settings(home=home, base_iri=BASE_IRI, query_timeout=5), store=store)
    app.state.max_upload_bytes = 1 << 20
    publisher = create_token(home, name="fuzz", role="publisher").token
    app.state.fuzz_headers = {"Authorization": f"Bearer {publisher}"}
    keys = {"key": model.key, "name": model.key, "uuid": model.key, "dist_key": dist_key}
    yield Registry(app, store, keys, time.monotonic())
    store.close()


@pytest.fixture(scope="module")
def api_schema(registry: Registry) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", registry.app)


def errors_are_problem_documents(response: Any, case: Any) -> None:
    """Every 4xx/5xx is ``application/problem+json`` with type, title and status; under /v2 also ``error``.

    The one exception: a page (HTML by design) may answer a bad request with an HTML page that shows the error
    (the query page does, for a query that does not parse); a 5xx never."""
    if response.status_code < 400 or case.method.upper() == "HEAD":
        return
    where = f"{case.method} {case.formatted_path} -> {response.status_code}"
    media = response.headers.get("content-type", [""])
    media = (media[0] if isinstance(media, list) else media).split(";")[0].strip()
    if media == "text/html" and case.path in PAGES and response.status_code < 500:
        return
    assert media == PROBLEM, f"{where} as {media!r}: {response.text[:200]}"
    doc = response.json()
    assert isinstance(doc, dict), f"{where}: {doc!r}"
    missing = [m for m in ("type", "title", "status") if m not in doc]
    assert not missing, f"{where}: the problem lacks {missing}: {doc}"
    assert doc["status"] == response.status_code, f"{where}: {doc}"
    if case.path.startswith("/v2"):
        assert isinstance(doc.get("error"), str) and doc["error"], f"{where}: no `error` member: {doc}"


@dataclass
class Finding:
    operation: str
    mode: str
    error: str


def _fuzz(registry: Registry, api_schema: Any, mode: str, timings: dict[str, float]) -> tuple[list[Finding], int]:
    """Run every operation's examples in ``mode`` ("positive", "negative" or "real-keys": positive data with the
    path parameters of real records); returns what failed and how many cases ran."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    findings: list[Finding] = []
    ran: list[int] = []  # one entry per case that ran
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if time.monotonic() - registry.started > BUDGET:
            break
        kwargs: dict[str, Any] = {}
        if mode == "negative" and operation.label in NO_NEGATIVE:
            continue
        if mode == "real-keys":
            names = {p.name for p in operation.path_parameters}
            if not names & set(registry.keys):
                continue
            kwargs["path_parameters"] = {n: registry.keys[n] for n in names if n in registry.keys}
        generation = GenerationMode.NEGATIVE if mode == "negative" else GenerationMode.POSITIVE
        checks = [not_a_server_error]
        if operation.path not in PAGES and mode != "negative":
            checks.append(response_schema_conformance)

        run = _property(registry, operation.as_strategy(generation, **kwargs), checks, ran)
        t0 = time.monotonic()
        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            pass  # schemathesis cannot make data of this mode for this operation (negative data for a free string)
        except Exception as exc:  # noqa: BLE001 - every operation runs; the failures are reported together
            findings.append(Finding(operation.label, mode, f"{type(exc).__name__}: {str(exc)[:1500]}"))
        timings[operation.label] = time.monotonic() - t0
    return findings, len(ran)


def _property(registry: Registry, strategy: Any, checks: list[Any], ran: list[int]) -> Any:
    """The hypothesis test for one operation: call, then the problem-document check and ``checks``."""
    headers = registry.app.state.fuzz_headers

    @hypothesis.given(case=strategy)
    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=not FULL, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck),
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
    def run(case: Any) -> None:
        if time.monotonic() - registry.started > BUDGET:
            return
        ran.append(1)
        response = case.call(headers=headers)
        errors_are_problem_documents(response, case)
        case.validate_response(response, checks=checks, headers=headers)

    return run


@pytest.mark.parametrize("mode", ["positive", "real-keys", "negative"])
def test_no_operation_fails_or_answers_an_error_that_is_not_a_problem(registry: Registry, api_schema: Any,
                                                                      mode: str) -> None:
    timings: dict[str, float] = {}
    findings, ran = _fuzz(registry, api_schema, mode, timings)
    slowest = sorted(timings.items(), key=lambda item: -item[1])[:4]
    print(f"\n[schemathesis] {mode}: {ran} cases over {len(timings)} operations in {sum(timings.values()):.1f} s, "
          f"{len(findings)} failing; slowest: " + ", ".join(f"{op} {sec:.1f} s" for op, sec in slowest))
    assert not findings, "\n\n".join(f"{f.operation} ({f.mode}): {f.error}" for f in findings)


def test_the_fuzzed_registry_still_holds_its_records(registry: Registry) -> None:
    """Fuzzing with a publisher token removed nothing (withdrawal and updates need the admin token)."""
    assert len(registry.store.get_graph(f"{BASE_IRI}/id/{registry.keys['key']}")) > 0
    assert Path(registry.app.state.settings.home, "artifacts").is_dir()
