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
  at most every :data:`STATE_TTL_S` seconds, so a record that changes (re-registered, withdrawn, restricted) stops
  being served from the cache within that time.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from fairkg.api.auth import ensure_artifact_access
from fairkg.api.deps import SettingsDep, StoreDep, get_settings, get_store
from fairkg.api.oip import (
    BINARY_HEADER,
    EXTENSIONS,
    InferRequest,
    OipRequestError,
    decode_request,
    encode_response,
    oip_datatype,
    oip_shape,
    tensor_metadata,
)
from fairkg.api.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, ProblemError, problem_from_error
from fairkg.kg.errors import ArtifactError, FairkgError
from fairkg.kg.identifiers import lookup, resource_iri
from fairkg.kg.inference_runs import ModelState, model_state
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import Store
from fairkg.runners import (
    DEFAULT_CACHE_SIZE,
    DispatchError,
    ForeignPlanError,
    InputError,
    LoadedModel,
    ModelCache,
    ModelLoadError,
    PredictionError,
    UnsafeArtifactError,
    WithdrawnModelError,
    load_model,
    model_spec,
    select,
)
from fairkg.runners.dataset_run import DEFAULT_BATCH_SIZE, DatasetRunError, run_on_dataset

log = logging.getLogger(__name__)

#: what a platform string says for each runtime (OIP's ``platform`` is informational; Triton's names where it has one)
PLATFORMS = {"onnxruntime": "onnxruntime_onnx", "torch": "pytorch_torch_export", "tensorrt": "tensorrt_plan"}
_RESOLVED_MAX = 64
#: seconds a model's serving state (content hash, withdrawn, restricted) is reused before it is queried again
STATE_TTL_S = 1.0
_STATE_LOCK = threading.Lock()


def runner_problem(exc: FairkgError) -> ProblemError:
    """The problem document for an error of ``fairkg.runners`` (or ``fairkg.kg``) met while serving a model."""
    if isinstance(exc, InputError):
        return ProblemError(400, f"{exc}. Expected {_tensors(exc.expected)}; received {_given(exc.given)}",
                            title="Inputs do not match the model", type=PROBLEM_BASE + "input-mismatch",
                            expected=exc.expected, given=exc.given, problems=exc.problems)
    if isinstance(exc, ForeignPlanError):
        # 409: the request conflicts with the state of the resource here (its plan was built for another GPU or
        # TensorRT version); the client can resolve it by asking for another runtime, the operator by a rebuild.
        return ProblemError(409, str(exc), title="TensorRT plan built elsewhere", type=PROBLEM_BASE + "foreign-plan",
                            available=exc.available)
    if isinstance(exc, DispatchError):
        # 400, RuntimeUnavailableError included: the request asks for what this machine does not have, and asking
        # again will not change that (not 503, which promises a retry may work); the body lists what can run.
        return ProblemError(400, str(exc), title="Cannot run the model as requested", type=PROBLEM_BASE + "dispatch",
                            available=exc.available)
    if isinstance(exc, DatasetRunError):
        return ProblemError(400, str(exc), title="The dataset cannot feed the model", type=PROBLEM_BASE + "dataset-run")
    if isinstance(exc, WithdrawnModelError):
        return ProblemError(410, str(exc), title="Withdrawn", type=PROBLEM_BASE + "withdrawn")
    if isinstance(exc, ArtifactError):
        # 500, not 409: the client asked correctly for a resource that exists; the server cannot produce it intact,
        # which is the server's failure, and no client can repair our disk (the same choice as /artifacts).
        log.error("refused to load a model: %s", exc)
        return ProblemError(500, f"{exc}. The artifact failed its checksum and was not loaded; the registry's "
                            "operator must restore it (`fairkg restore`) or register the model again.",
                            title="Artifact failed its fixity check", type=PROBLEM_BASE + "artifact-integrity")
    if isinstance(exc, UnsafeArtifactError | ModelLoadError | PredictionError):
        log.error("inference failed: %s", exc, exc_info=exc)
        return ProblemError(500, str(exc), title="Inference failed", type=PROBLEM_BASE + "inference-failed")
    return problem_from_error(exc)


def _datatype(dtype: object) -> str:
    try:
        return oip_datatype(str(dtype))
    except OipRequestError:
        return str(dtype)


def _tensors(specs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{s['name']} {_datatype(s['dtype'])} {oip_shape(s['shape'])}" for s in specs)


def _given(given: dict[str, dict[str, Any]]) -> str:
    return ", ".join(f"{name} {_datatype(g['dtype'])} {list(g['shape'])}" for name, g in given.items()) or "nothing"


def _problem_response(problem: ProblemError, request: Request) -> JSONResponse:
    if not request.url.path.startswith("/v2"):
        return problem.response(request.url.path)
    # OIP: "the HTTP status code indicates the error ... the response body is an $inference_error_response object":
    # {"error": <error message string>}; tritonclient reads exactly that member.
    document = jsonable_encoder(problem.document(request.url.path))
    document["error"] = problem.detail
    return JSONResponse(document, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_MEDIA_TYPE)


def problem_for(exc: Exception) -> ProblemError | None:
    """The problem to answer for ``exc``, or None when it is not one this router answers itself."""
    if isinstance(exc, ProblemError):
        return exc
    if isinstance(exc, OipRequestError):
        return ProblemError(400, str(exc), title="Not an inference request", type=PROBLEM_BASE + "oip-request")
    if isinstance(exc, FairkgError):
        return runner_problem(exc)
    if isinstance(exc, RequestValidationError):
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors())
        return ProblemError(422, f"the request is not valid: {where}", title="Invalid request",
                            type=PROBLEM_BASE + "invalid-request")
    if isinstance(exc, StarletteHTTPException):
        return ProblemError(exc.status_code, str(exc.detail), headers=exc.headers)
    return None


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
                return _problem_response(problem, request)

        return route


router = APIRouter(tags=["Inference"], route_class=InferenceRoute)


# ----------------------------------------------------------------------------------------------------------------
# Loaded models: the runners' bounded cache, plus a map from a request (model, its content hash, runtime, device) to
# the model loaded for it, so that a request for a loaded model costs one small query, not a dispatch.


@dataclass
class ServingCache:
    models: ModelCache
    resolved: dict[tuple[str, str | None, str | None, str | None], LoadedModel] = field(default_factory=dict)
    states: dict[str, tuple[float, ModelState]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self, store: Store, model_iri: str) -> ModelState | None:
        """The model's serving state, queried at most once per :data:`STATE_TTL_S` seconds (the query is most of
        a small model's serving time): a withdrawal or re-registration reaches a running server within that time."""
        now = time.monotonic()
        with self.lock:
            cached = self.states.get(model_iri)
        if cached is not None and now - cached[0] < STATE_TTL_S:
            return cached[1]
        state = model_state(store, model_iri)
        if state is not None:
            with self.lock:
                if len(self.states) >= _RESOLVED_MAX:
                    self.states.clear()
                self.states[model_iri] = (now, state)
        return state

    def model(self, store: Store, settings: Settings, state: ModelState, runtime: str | None,
              device: str | None) -> LoadedModel:
        key = (state.iri, state.content_hash, runtime, device)
        with self.lock:
            loaded = self.resolved.get(key)
        if loaded is not None and not loaded.released:
            return loaded
        loaded = load_model(store, home=settings.home, base_iri=settings.base_iri, model_iri=state.iri,
                            runtime=runtime, device=device, cache=self.models)
        with self.lock:
            if len(self.resolved) >= _RESOLVED_MAX:
                self.resolved.clear()
            self.resolved[key] = loaded
        return loaded


def serving_cache(request: Request) -> ServingCache:
    """The app's cache of loaded models (created on first use)."""
    state = request.app.state
    cache = getattr(state, "serving_cache", None)
    if cache is None:
        with _STATE_LOCK:
            cache = getattr(state, "serving_cache", None)
            if cache is None:
                cache = state.serving_cache = ServingCache(ModelCache(DEFAULT_CACHE_SIZE))
    return cache


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _state(store: Store, settings: Settings, name: str, cache: ServingCache | None = None) -> ModelState:
    # a model's name is a uuid: anything else names no model (and may not even fit in an IRI)
    state = None
    if _UUID.fullmatch(name):
        iri = str(resource_iri(settings.base_iri, name.lower()))
        state = cache.state(store, iri) if cache is not None else model_state(store, iri)
    if state is None:
        raise ProblemError(404, f"no model is named {name!r} here: a model's name is its key, the uuid of its IRI "
                           "(GET /resolve?id=DOI with Accept: application/json gives it; POST /v2/repository/index "
                           "lists them)", title="Unknown model", type=PROBLEM_BASE + "not-found")
    return state


def _check_version(state: ModelState, version: str | None) -> None:
    if version is not None and version != (state.version or "1"):
        raise ProblemError(404, f"model {state.iri} has no version {version!r} (its version: {state.version or '1'}); "
                           "other versions of a model are models of their own, with their own keys",
                           title="Unknown model version", type=PROBLEM_BASE + "not-found")


# ----------------------------------------------------------------------------------------------------------------
# Server and model metadata, health


@router.get("/v2", summary="Server metadata (OIP)")
def server_metadata(request: Request) -> dict[str, Any]:
    return {"name": "fairkg", "version": request.app.version, "extensions": list(EXTENSIONS)}


@router.get("/v2/health/live", summary="Liveness (OIP)")
def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/v2/health/ready", summary="Readiness (OIP): the graph store is open")
def ready(request: Request) -> dict[str, bool]:
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
    state = _state(store, settings, name)
    _check_version(state, version)
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
    state = _state(store, settings, name)
    _check_version(state, version)
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


def _infer(request: Request, name: str, version: str | None, decoded: InferRequest) -> tuple[bytes, int | None]:
    store, settings, cache = get_store(request), get_settings(request), serving_cache(request)
    state = _state(store, settings, name, cache)
    _check_version(state, version)
    if state.restricted or state.withdrawn:
        ensure_artifact_access(request, state.iri)
    model = cache.model(store, settings, state, decoded.runtime, decoded.device)
    outputs = model.predict(decoded.inputs)
    return encode_response(outputs, model_name=name.lower(), model_version=state.version, request=decoded,
                           parameters={"runtime": model.runtime, "device": model.device,
                                       "distribution": model.distribution_iri})


async def _infer_response(request: Request, name: str, version: str | None) -> Response:
    header = request.headers.get(BINARY_HEADER)
    try:
        header_length = int(header) if header is not None else None
    except ValueError:
        raise OipRequestError(f"{BINARY_HEADER} must be an integer, got {header!r}") from None
    decoded = decode_request(await request.body(), header_length=header_length)
    # the model runs in a worker thread, so the event loop keeps serving other requests meanwhile
    body, json_length = await run_in_threadpool(_infer, request, name, version, decoded)
    if json_length is None:
        return Response(body, media_type="application/json")
    return Response(body, media_type="application/octet-stream", headers={BINARY_HEADER: str(json_length)})


_INFER_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "$inference_request"}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                            "description": "JSON header then binary tensors"}}}}}


@router.post("/v2/models/{name}/infer", summary="Infer (OIP; JSON or binary tensors)", response_class=Response,
             openapi_extra=_INFER_DOC)
async def infer(name: str, request: Request) -> Response:
    return await _infer_response(request, name, None)


@router.post("/v2/models/{name}/versions/{version}/infer", include_in_schema=False, response_class=Response)
async def infer_version(name: str, version: str, request: Request) -> Response:
    return await _infer_response(request, name, version)


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
    state = _state(store, settings, key)
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
