"""The one app factory: :func:`create_app` (DESIGN.md, "The service").

Nothing happens at import time: the store is opened when the app starts (its lifespan), from the settings it was
created with, and closed when it stops. A store passed in belongs to the caller, who closes it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from fairkg.api import artifacts, fair_routes, inference, pages, registration, resolver, sparql
from fairkg.api.limits import BodyLimitMiddleware
from fairkg.api.oip_serving import InferFastPath
from fairkg.api.problems import install_problem_handlers
from fairkg.kg.settings import Settings
from fairkg.kg.store import Store, open_configured_store

log = logging.getLogger(__name__)


#: FastAPI's OpenTelemetry hooks, off: checking whether a provider is configured reads environment variables on
#: every request (~30 us, a tenth of an inference request's time in the service). FAIRKG_OPENTELEMETRY=1 keeps them.
_NO_TELEMETRY: Any = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings, *, store: Store | None = None, admin_tokens: Iterable[str] = ()) -> FastAPI:
    """The fairkg service for ``settings``.

    ``store``: serve this store instead of opening ``settings.store_url`` (tests, in-process probes); it is not
    closed with the app. ``admin_tokens``: tokens accepted as admin besides ``settings.admin_token`` (the local
    token ``fairkg serve`` writes to ``server.json``).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.store is None
        if owned:
            app.state.store = open_configured_store(settings)
        try:
            yield
        finally:
            if owned:
                opened, app.state.store = app.state.store, None
                opened.close()

    app = FastAPI(
        title="fairkg",
        summary="A knowledge graph of FAIR AI models: SPARQL, resolution, FAIR reports and inference.",
        version=_version(),
        lifespan=lifespan,
        telemetry=None if os.environ.get("FAIRKG_OPENTELEMETRY") else _NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.store = store
    tokens = {t for t in (settings.admin_token, *admin_tokens) if t}
    app.state.admin_tokens = frozenset(tokens)
    install_problem_handlers(app)
    # Middleware added later wraps what was added before. Infer requests are answered by the fast path before
    # FastAPI's router (see fairkg.api.oip_serving), inside the body limit, which applies to them as before.
    app.add_middleware(InferFastPath)
    app.add_middleware(BodyLimitMiddleware, query_bytes=settings.max_query_bytes, infer_bytes=settings.max_infer_bytes)

    # Routers, one per concern (DESIGN.md, "The service"). Add new ones here.
    app.include_router(sparql.router)  # SPARQL 1.1 Protocol at /sparql
    app.include_router(pages.router)  # HTML: /, /search, /query, /catalog
    app.include_router(artifacts.router)  # /artifacts/{dist_key}/{filename}, checksum verified
    app.include_router(registration.router)  # POST /models, /datasets; withdrawal
    app.include_router(resolver.router)  # /doi, /ark:, /minid:, /resolve (303) and /id/{uuid}, /models/{key} pages
    app.include_router(inference.router)  # Open Inference Protocol v2 at /v2 (binary tensors); /models/{key}/runs
    app.include_router(fair_routes.router)  # FAIR reports: /models/{key}/fair (JSON, HTML, Turtle), /fair
    # resolver (/id, /doi, /ark:, /minid:, /resolve), browsing (HTML), FAIR reports, /v2 inference, auth: to come
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fairkg")
    except PackageNotFoundError:
        return "0+unknown"


__all__ = ["create_app"]
