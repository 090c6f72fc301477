"""Serving ``POST /v2/models/{name}[/versions/{version}]/infer`` (the Open Inference Protocol's infer), shared by the
FastAPI routes of :mod:`fairkg.api.inference` and by :class:`InferFastPath`, a pure ASGI middleware that answers the
same requests before FastAPI's router sees them.

Why a fast path: a digits-sized model runs in ~0.1 ms, and the generic machinery around it cost ten times that
(measured in-process on the demo's digits model): FastAPI matching the path against every route (~45 regular
expressions), its request and dependency handling, and a worker-thread hop (~0.1-0.2 ms). The middleware does the
same work as the route, in the same order, with the same errors: the body limit still applies (the middleware sits
inside :class:`fairkg.api.limits.BodyLimitMiddleware`), the body is decoded and checked by :mod:`fairkg.api.oip`, the
model comes from the same cache (artifacts checksum-verified on every load), restricted and withdrawn models go
through :func:`fairkg.api.auth.ensure_artifact_access`, errors are the same problem documents with the protocol's
``error`` member. Nothing is recorded in the graph per request, on either path: dataset runs (``POST
/models/{key}/runs``) are what becomes an ``fkg:InferenceRun``.

Where the model runs: on the event loop when nothing on the way can block (the model is loaded, its serving state
was read less than :data:`STATE_TTL_S` ago, it is public) and its recent predictions say this one will take at most
:data:`INLINE_MAX_S`; otherwise in a worker thread, so that a load, a graph query, a token check or a big batch never
stalls the other connections.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from fairkg.api.auth import ensure_artifact_access
from fairkg.api.deps import get_settings, get_store
from fairkg.api.limits import infer_path
from fairkg.api.oip import (
    BINARY_HEADER,
    InferRequest,
    OipRequestError,
    decode_request,
    encode_response,
    oip_datatype,
    oip_shape,
)
from fairkg.api.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, ProblemError, problem_from_error
from fairkg.kg.errors import ArtifactError, FairkgError
from fairkg.kg.identifiers import resource_iri
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
)
from fairkg.runners.dataset_run import DatasetRunError

__all__ = ["INLINE_MAX_S", "STATE_TTL_S", "InferFastPath", "ServingCache", "check_version", "infer_headers",
           "infer_response", "infer_route", "model_state_of", "problem_for", "problem_response", "runner_problem",
           "serving_cache"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: (model IRI, its content hash, requested runtime, requested device): what a loaded model was resolved for
Resolved = tuple[str, str | None, str | None, str | None]

_RESOLVED_MAX = 64
#: seconds a model's serving state (content hash, withdrawn, restricted) is reused before it is queried again
STATE_TTL_S = 1.0
#: the longest prediction run on the event loop (expected from the model's recent predictions): about what the
#: worker-thread hop it saves costs (0.1-0.2 ms measured), so at worst the loop waits twice what a hop would cost
INLINE_MAX_S = 0.0005
#: how many recent predictions a model's cost estimate looks at (the fastest of them: a prediction that was
#: preempted on a busy machine says nothing about the model, and would send the next ones to a thread for nothing)
_COST_WINDOW = 16
_CACHE_LOCK = threading.Lock()
_BINARY_HEADER_KEY = BINARY_HEADER.lower().encode("latin-1")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


# ----------------------------------------------------------------------------------------------------------------
# Errors: problem documents, with the protocol's `error` member under /v2


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


def problem_response(problem: ProblemError, request: Request) -> JSONResponse:
    """``problem`` as a response; under ``/v2`` with the protocol's ``error`` member."""
    if not request.url.path.startswith("/v2"):
        return problem.response(request.url.path)
    # OIP: "the HTTP status code indicates the error ... the response body is an $inference_error_response object":
    # {"error": <error message string>}; tritonclient reads exactly that member.
    document = jsonable_encoder(problem.document(request.url.path))
    document["error"] = problem.detail
    return JSONResponse(document, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_MEDIA_TYPE)


def problem_for(exc: Exception) -> ProblemError | None:
    """The problem to answer for ``exc``, or None when it is not one the inference routes answer themselves."""
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


# ----------------------------------------------------------------------------------------------------------------
# Loaded models: the runners' bounded cache, plus a map from a request (model, its content hash, runtime, device) to
# the model loaded for it, so that a request for a loaded model costs no query and no dispatch.


@dataclass
class ServingCache:
    models: ModelCache
    resolved: dict[Resolved, LoadedModel] = field(default_factory=dict)
    states: dict[str, tuple[float, ModelState]] = field(default_factory=dict)
    #: each resolved model's recent prediction times, in seconds per input element
    costs: dict[Resolved, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fresh_state(self, model_iri: str) -> ModelState | None:
        """The model's serving state if it was read less than :data:`STATE_TTL_S` seconds ago (no query)."""
        with self.lock:
            cached = self.states.get(model_iri)
        if cached is not None and time.monotonic() - cached[0] < STATE_TTL_S:
            return cached[1]
        return None

    def state(self, store: Store, model_iri: str) -> ModelState | None:
        """The model's serving state, queried at most once per :data:`STATE_TTL_S` seconds (the query costs several
        times a small model's prediction): a withdrawal or re-registration reaches a running server within that."""
        state = self.fresh_state(model_iri)
        if state is not None:
            return state
        now = time.monotonic()
        state = model_state(store, model_iri)
        if state is not None:
            with self.lock:
                if len(self.states) >= _RESOLVED_MAX:
                    self.states.clear()
                self.states[model_iri] = (now, state)
        return state

    def loaded(self, key: Resolved) -> LoadedModel | None:
        """The model already loaded for ``key``, if it is still loaded (no dispatch)."""
        with self.lock:
            model = self.resolved.get(key)
        return model if model is not None and not model.released else None

    def model(self, store: Store, settings: Settings, key: Resolved) -> LoadedModel:
        """The model for ``key``, dispatched and loaded (checksum verified) unless already loaded."""
        loaded = self.loaded(key)
        if loaded is not None:
            return loaded
        iri, _, runtime, device = key
        loaded = load_model(store, home=settings.home, base_iri=settings.base_iri, model_iri=iri,
                            runtime=runtime, device=device, cache=self.models)
        with self.lock:
            if len(self.resolved) >= _RESOLVED_MAX:
                self.resolved.clear()
                self.costs.clear()
            self.resolved[key] = loaded
        return loaded

    def predict(self, key: Resolved, model: LoadedModel, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``model.predict(inputs)``, timed into the model's cost estimate."""
        began = time.perf_counter()
        outputs = model.predict(inputs)
        per_element = (time.perf_counter() - began) / max(1, _elements(inputs))
        with self.lock:
            self.costs.setdefault(key, deque(maxlen=_COST_WINDOW)).append(per_element)
        return outputs

    def quick(self, key: Resolved, inputs: Mapping[str, np.ndarray]) -> bool:
        """Whether the recent predictions of ``key``'s model say these inputs take at most :data:`INLINE_MAX_S`."""
        with self.lock:
            recent = self.costs.get(key)
            cost = min(recent) if recent else None
        return cost is not None and cost * _elements(inputs) <= INLINE_MAX_S


def _elements(inputs: Mapping[str, np.ndarray]) -> int:
    return sum(int(np.size(array)) for array in inputs.values())


def serving_cache(request: Request) -> ServingCache:
    """The app's cache of loaded models (created on first use)."""
    state = request.app.state
    cache = getattr(state, "serving_cache", None)
    if cache is None:
        with _CACHE_LOCK:
            cache = getattr(state, "serving_cache", None)
            if cache is None:
                cache = state.serving_cache = ServingCache(ModelCache(DEFAULT_CACHE_SIZE))
    return cache


def _unknown_model(name: str) -> ProblemError:
    return ProblemError(404, f"no model is named {name!r} here: a model's name is its key, the uuid of its IRI (GET "
                        "/resolve?id=DOI with Accept: application/json gives it; POST /v2/repository/index lists them)",
                        title="Unknown model", type=PROBLEM_BASE + "not-found")


def _model_iri(settings: Settings, name: str) -> str | None:
    # a model's name is a uuid: anything else names no model (and may not even fit in an IRI)
    return str(resource_iri(settings.base_iri, name.lower())) if _UUID.fullmatch(name) else None


def model_state_of(store: Store, settings: Settings, name: str, cache: ServingCache | None = None) -> ModelState:
    """The serving state of the model named ``name`` (its key); through ``cache`` when given.

    Raises:
        ProblemError: 404, no model has that name.
    """
    iri = _model_iri(settings, name)
    state = None
    if iri is not None:
        state = cache.state(store, iri) if cache is not None else model_state(store, iri)
    if state is None:
        raise _unknown_model(name)
    return state


def check_version(state: ModelState, version: str | None) -> None:
    """Refuse (404) a version path naming another version than the model's ``dcat:version`` (default "1")."""
    if version is not None and version != (state.version or "1"):
        raise ProblemError(404, f"model {state.iri} has no version {version!r} (its version: {state.version or '1'}); "
                           "other versions of a model are models of their own, with their own keys",
                           title="Unknown model version", type=PROBLEM_BASE + "not-found")


# ----------------------------------------------------------------------------------------------------------------
# Inference


def _resolved(state: ModelState, decoded: InferRequest) -> Resolved:
    return state.iri, state.content_hash, decoded.runtime, decoded.device


def _answer(cache: ServingCache, key: Resolved, model: LoadedModel, state: ModelState, name: str,
            decoded: InferRequest) -> tuple[bytes, int | None]:
    outputs = cache.predict(key, model, decoded.inputs)
    return encode_response(outputs, model_name=name.lower(), model_version=state.version, request=decoded,
                           parameters={"runtime": model.runtime, "device": model.device,
                                       "distribution": model.distribution_iri})


def _on_loop(cache: ServingCache, settings: Settings, name: str, version: str | None,
             decoded: InferRequest) -> tuple[ModelState, Resolved, LoadedModel] | None:
    """What to run on the event loop, or None when anything on the way could block (a graph query, a load, a token
    check) or the prediction is expected to take longer than :data:`INLINE_MAX_S`."""
    iri = _model_iri(settings, name)
    state = cache.fresh_state(iri) if iri is not None else None
    if state is None or state.restricted or state.withdrawn:
        return None
    check_version(state, version)
    key = _resolved(state, decoded)
    model = cache.loaded(key)
    if model is None or not cache.quick(key, decoded.inputs):
        return None
    return state, key, model


def _infer(request: Request, name: str, version: str | None, decoded: InferRequest) -> tuple[bytes, int | None]:
    """The whole request, in a worker thread: the state query, access check and load may block."""
    store, settings, cache = get_store(request), get_settings(request), serving_cache(request)
    state = model_state_of(store, settings, name, cache)
    check_version(state, version)
    if state.restricted or state.withdrawn:
        ensure_artifact_access(request, state.iri)
    key = _resolved(state, decoded)
    return _answer(cache, key, cache.model(store, settings, key), state, name, decoded)


def _header_length(header: str | None) -> int | None:
    try:
        return int(header) if header is not None else None
    except ValueError:
        raise OipRequestError(f"{BINARY_HEADER} must be an integer, got {header!r}") from None


async def _respond(request: Request, name: str, version: str | None, header: str | None,
                   body: bytes) -> tuple[bytes, int | None]:
    decoded = decode_request(body, header_length=_header_length(header))
    if getattr(request.app.state, "store", None) is not None:  # else: the worker path answers 503
        cache = serving_cache(request)
        found = _on_loop(cache, get_settings(request), name, version, decoded)
        if found is not None:
            state, key, model = found
            return _answer(cache, key, model, state, name, decoded)
    return await run_in_threadpool(_infer, request, name, version, decoded)


async def infer_response(request: Request, name: str, version: str | None) -> tuple[bytes, int | None]:
    """The response body of an infer request, and the length of its JSON part when binary tensors follow it.

    Raises:
        OipRequestError, ProblemError, FairkgError: answered with :func:`problem_for`.
    """
    return await _respond(request, name, version, request.headers.get(BINARY_HEADER), await request.body())


def infer_headers(body: bytes, json_length: int | None) -> list[tuple[bytes, bytes]]:
    """The headers of an infer response: JSON, or JSON then binary tensors (with the protocol's header)."""
    if json_length is None:
        return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return [(b"content-type", b"application/octet-stream"), (b"content-length", str(len(body)).encode()),
            (_BINARY_HEADER_KEY, str(json_length).encode())]


async def _body(receive: Receive) -> bytes:
    """The whole request body, as ``Request.body`` reads it, without its stream machinery."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _header(scope: Scope, key: bytes) -> str | None:
    """A request header's value (ASGI servers give names in lower case, as ``Request.headers`` expects them)."""
    for name, value in scope["headers"]:
        if name == key:
            return value.decode("latin-1")
    return None


class InferFastPath:
    """Answers ``POST /v2/models/{name}[/versions/{version}]/infer`` itself and passes everything else on (pure
    ASGI: no routing, no dependency injection, no ``Response`` objects on the way)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = infer_path(scope) if scope["type"] == "http" and scope["method"] == "POST" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        name, version = found
        request = Request(scope, receive)  # for the worker path (token check) and problem documents
        try:
            answer, json_length = await _respond(request, name, version, _header(scope, _BINARY_HEADER_KEY),
                                                 await _body(receive))
        except Exception as exc:  # the same mapping as the routes' (InferenceRoute); anything else is a 500
            problem = problem_for(exc)
            if problem is None:
                raise
            await problem_response(problem, request)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": infer_headers(answer, json_length)})
        await send({"type": "http.response.body", "body": answer})


def _infer_route_response(body: bytes, json_length: int | None) -> Response:
    """The same answer as :class:`InferFastPath` sends, as a ``Response`` (for the FastAPI routes)."""
    if json_length is None:
        return Response(body, media_type="application/json")
    return Response(body, media_type="application/octet-stream", headers={BINARY_HEADER: str(json_length)})


async def infer_route(request: Request, name: str, version: str | None) -> Response:
    """What the FastAPI infer routes answer (reached only where :class:`InferFastPath` is not installed)."""
    return _infer_route_response(*await infer_response(request, name, version))
