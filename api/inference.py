"""Inference over HTTP: the Open Inference Protocol v2 (KServe / Triton REST, with Triton's binary tensor extension,
which ``tritonclient.http`` uses by default) under ``/v2``, and dataset runs at ``POST /models/{key}/runs``.

* A model's name in ``/v2/models/{name}`` is its key (the uuid of its IRI): a DOI's slash cannot travel in a model
  name. ``/v2/models/{name}/versions/{version}/...`` is accepted when ``version`` is the model's ``dcat:version``.
* Where it runs: the request's ``parameters`` ``runtime`` (``onnxruntime``, ``torch``, ``tensorrt``) and ``device``
  (``cpu``, ``cuda``, ``cuda:N``); without them the fastest available here. An impossible request is a 400 that
  lists what can run. The response's ``parameters`` say which runtime, device and distribution ran it.
* Inputs are checked against the tensor specs: a wrong name, dtype or shape is a 400 naming expected and received.
* Restricted models need a bearer token with the reader role (:func:`fairkg.api.auth.ensure_artifact_access`).
* Every error under ``/v2`` is a problem document (RFC 9457) that also carries the protocol's ``error`` member, which
  is what tritonclient reads.
* Loaded models are cached (bounded, :class:`fairkg.runners.ModelCache` in ``app.state``). Artifacts are verified
  against their SHA-256 on every load; a model already loaded keeps serving from memory (the bytes it was loaded
  from were verified). Each model's serving state (content hash, withdrawn, restricted) is re-read from the graph
  at most every :data:`fairkg.api.oip_serving.STATE_TTL_S` seconds, so a record that changes (re-registered,
  withdrawn, restricted) stops being served from the cache within that time.
* Infer requests are answered by :class:`fairkg.api.oip_serving.InferFastPath` (installed by ``create_app``) before
  FastAPI's router sees them; the infer routes here do the same work and document the endpoint in OpenAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.routing import Match

from fairkg.api.auth import ensure_artifact_access
from fairkg.api.deps import SettingsDep, StoreDep
from fairkg.api.oip import EXTENSIONS, tensor_metadata
from fairkg.api.oip_serving import (
    ServingCache,
    check_version,
    infer_route,
    model_state_of,
    problem_for,
    problem_response,
    runner_problem,
    serving_cache,
)
from fairkg.api.problems import PROBLEM_BASE, ProblemError
from fairkg.kg.errors import FairkgError
from fairkg.kg.identifiers import lookup
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import Store
from fairkg.runners import WithdrawnModelError, model_spec, select
from fairkg.runners.dataset_run import DEFAULT_BATCH_SIZE, run_on_dataset

#: what a platform string says for each runtime (OIP's ``platform`` is informational; Triton's names where it has one)
PLATFORMS = {"onnxruntime": "onnxruntime_onnx", "torch": "pytorch_torch_export", "tensorrt": "tensorrt_plan"}


class InferenceRoute(APIRoute):
    """Routes whose errors become problem documents here, with the runners' errors mapped to their statuses and,
    under ``/v2``, the protocol's ``error`` member added."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as exc:
                problem = problem_for(exc)
                if problem is None:
                    raise
                return problem_response(problem, request)

        return route


router = APIRouter(tags=["Inference"], route_class=InferenceRoute)


# ----------------------------------------------------------------------------------------------------------------
# Server and model metadata, health


# async: they do no I/O, and a plain `def` route costs a worker-thread hop (~0.1-0.2 ms) on every health probe
@router.get("/v2", summary="Server metadata (OIP)")
async def server_metadata(request: Request) -> dict[str, Any]:
    return {"name": "fairkg", "version": request.app.version, "extensions": list(EXTENSIONS)}


@router.get("/v2/health/live", summary="Liveness (OIP)")
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/v2/health/ready", summary="Readiness (OIP): the graph store is open")
async def ready(request: Request) -> dict[str, bool]:
    if getattr(request.app.state, "store", None) is None:
        raise ProblemError(503, "the graph store is not open (the service is starting or stopping)",
                           title="Not ready", type=PROBLEM_BASE + "not-ready", ready=False)
    return {"ready": True}


class IndexRequest(BaseModel):
    ready: bool | None = Field(default=None, description="Only ready (true) or only unavailable (false) models.")


@router.post("/v2/repository/index", summary="List the models (Triton's repository extension)")
def repository_index(store: StoreDep, settings: SettingsDep, body: IndexRequest | None = None) -> list[dict[str, str]]:
    from fairkg.kg.catalog import catalog_entries

    entries = []
    for entry in catalog_entries(store, timeout=settings.query_timeout):
        if entry.kind != "model":
            continue
        state = "UNAVAILABLE" if entry.withdrawn else "READY"
        if body is not None and body.ready is not None and body.ready != (state == "READY"):
            continue
        entries.append({"name": entry.iri.rsplit("/", 1)[-1], "state": state,
                        "reason": "withdrawn" if entry.withdrawn else "", "title": entry.title or ""})
    return entries


def _metadata(store: Store, settings: Settings, name: str, version: str | None) -> dict[str, Any]:
    state = model_state_of(store, settings, name)
    check_version(state, version)
    spec = model_spec(store, model_iri=state.iri)
    try:
        platform = PLATFORMS.get(select(store, home=settings.home, base_iri=settings.base_iri,
                                        model_iri=state.iri).runtime, "fairkg")
    except FairkgError:
        platform = "fairkg"  # nothing can run it here; /ready says why
    return {"name": name.lower(), "versions": [state.version or "1"], "platform": platform,
            "inputs": [tensor_metadata(s.name, s.dtype, s.shape) for s in spec.inputs],
            "outputs": [tensor_metadata(s.name, s.dtype, s.shape) for s in spec.outputs]}


@router.get("/v2/models/{name}", summary="Model metadata (OIP): tensors with datatypes and shapes (-1: any size)")
def model_metadata(name: str, store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    return _metadata(store, settings, name, None)


@router.get("/v2/models/{name}/versions/{version}", include_in_schema=False)
def model_version_metadata(name: str, version: str, store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    return _metadata(store, settings, name, version)


def _readiness(store: Store, settings: Settings, name: str, version: str | None) -> JSONResponse:
    state = model_state_of(store, settings, name)
    check_version(state, version)
    try:
        if state.withdrawn:
            raise WithdrawnModelError(f"{state.iri} was withdrawn: its files were removed")
        select(store, home=settings.home, base_iri=settings.base_iri, model_iri=state.iri)
    except FairkgError as exc:
        # Triton answers 400 for a model that is not ready; tritonclient's is_model_ready reads the status
        raise ProblemError(400, f"{name.lower()} is not ready: {exc}", title="Model not ready",
                           type=PROBLEM_BASE + "not-ready", name=name.lower(), ready=False) from exc
    return JSONResponse({"name": name.lower(), "ready": True})


@router.get("/v2/models/{name}/ready", summary="Model readiness (OIP): a runtime here can run it")
def model_ready(name: str, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    return _readiness(store, settings, name, None)


@router.get("/v2/models/{name}/versions/{version}/ready", include_in_schema=False)
def model_version_ready(name: str, version: str, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    return _readiness(store, settings, name, version)


# ----------------------------------------------------------------------------------------------------------------
# Inference


_INFER_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "$inference_request"}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                            "description": "JSON header then binary tensors"}}}}}


@router.post("/v2/models/{name}/infer", summary="Infer (OIP; JSON or binary tensors)", response_class=Response,
             openapi_extra=_INFER_DOC)
async def infer(name: str, request: Request) -> Response:
    return await infer_route(request, name, None)


@router.post("/v2/models/{name}/versions/{version}/infer", include_in_schema=False, response_class=Response)
async def infer_version(name: str, version: str, request: Request) -> Response:
    return await infer_route(request, name, version)


# ----------------------------------------------------------------------------------------------------------------
# Dataset runs


class RunRequest(BaseModel):
    """Run the model over a split of a registered dataset."""

    dataset: str = Field(description="The dataset's identifier (DOI, ARK, minid, UUID or IRI).")
    split: str = Field(default="test", description="The split, e.g. test (the HDF5 group /<split>).")
    runtime: str | None = Field(default=None, description="onnxruntime, torch or tensorrt; default: the fastest.")
    device: str | None = Field(default=None, description="cpu, cuda or cuda:N; default: the fastest.")
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, le=1 << 16)
    inputs: dict[str, str] | None = Field(default=None, description="Model input -> dataset array (default: by "
                                          "name, else the one array whose shape fits).")
    labels: str | None = Field(default=None, description="The array of labels for metrics (default: the one "
                               "array left over).")


@router.post("/models/{key}/runs", status_code=201, summary="Run the model over a dataset split; results in HDF5")
def start_run(key: str, body: RunRequest, request: Request, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    state = model_state_of(store, settings, key)
    ensure_artifact_access(request, state.iri)
    dataset = lookup(store, body.dataset, base_iri=settings.base_iri)
    ensure_artifact_access(request, str(dataset))
    result = run_on_dataset(store, home=settings.home, base_iri=settings.base_iri, model_iri=state.iri,
                            dataset_iri=str(dataset), split=body.split, runtime=body.runtime, device=body.device,
                            batch_size=body.batch_size, inputs=body.inputs, labels=body.labels,
                            cache=serving_cache(request).models)
    document = result.as_dict()
    del document["results_iri"]
    document.update(model=state.iri, dataset=str(dataset), page=f"/id/{result.key}",
                    results_path=result.results_url.removeprefix(settings.base_iri))
    return JSONResponse(document, status_code=201, headers={"Location": f"/id/{result.key}"})


# ----------------------------------------------------------------------------------------------------------------
# Anything else under /v2: a protocol error with the `error` member (registered last, so it matches last)

_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.api_route("/v2/{path:path}", methods=_ALL_METHODS, include_in_schema=False)
def unknown_endpoint(path: str, request: Request) -> JSONResponse:
    allowed = sorted({method for route in router.routes if isinstance(route, APIRoute)
                      and route.path.startswith("/v2/") and route.endpoint is not unknown_endpoint
                      and route.matches(request.scope)[0] == Match.PARTIAL for method in route.methods or ()})
    if allowed:
        raise ProblemError(405, f"{request.method} is not allowed on /v2/{path} (allowed: {', '.join(allowed)})",
                           headers={"Allow": ", ".join(allowed)})
    hint = ""
    if path.startswith("models/"):
        hint = (": a model's name is its key, the uuid of its IRI, never a DOI (its slash cannot travel in a model "
                "name); GET /resolve?id=DOI with Accept: application/json gives the key")
    raise ProblemError(404, f"no Open Inference Protocol endpoint at /v2/{path}{hint}", title="Not found",
                       type=PROBLEM_BASE + "not-found")


__all__ = ["InferenceRoute", "ServingCache", "problem_for", "router", "runner_problem", "serving_cache"]
