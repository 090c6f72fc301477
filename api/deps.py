"""FastAPI dependencies shared by the routers: the store, the settings and the admin check.

Everything comes from ``request.app.state`` (set by :func:`fairkg.api.app.create_app`), never from module globals,
so several apps (tests, a probe's in-process app) can live in one process.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request

from fairkg.api.problems import PROBLEM_BASE, ProblemError
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import Store
from fairkg.kg.tokens import find_token

#: RFC 6750 §3: the challenge a client without a token gets.
BEARER_CHALLENGE = 'Bearer realm="fairkg"'


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_store(request: Request) -> Store:
    """The app's graph store (opened by the app's lifespan unless one was passed to ``create_app``)."""
    store = getattr(request.app.state, "store", None)
    if store is None:
        raise ProblemError(503, "the graph store is not open: the app runs without its lifespan, or is shutting "
                           "down; pass store= to create_app to run it in-process", title="Store not open",
                           type=PROBLEM_BASE + "store-not-open")
    return store


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header (RFC 6750 §2.1), if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def is_admin_token(token: str, admin_tokens: Iterable[str]) -> bool:
    """Whether ``token`` is one of ``admin_tokens``, in time that does not depend on where they differ."""
    given = token.encode()
    # No short-circuit: every configured token is compared, so timing does not tell which one nearly matched.
    return any([hmac.compare_digest(given, t.encode()) for t in admin_tokens])


def require_admin(request: Request) -> None:
    """Refuse the request unless it carries an admin bearer token (the service's own, or one made with `fairkg token
    create --role admin`): 401 without one (with the RFC 6750 challenge), 403 with a token lacking the right."""
    token = bearer_token(request)
    if token is None:
        raise ProblemError(401, "this operation needs an admin token: send `Authorization: Bearer TOKEN` (the local "
                           "token `fairkg serve` writes to server.json, FAIRKG_ADMIN_TOKEN, or `fairkg token create "
                           "--role admin`)", title="Authentication required", type=PROBLEM_BASE + "unauthenticated",
                           headers={"WWW-Authenticate": BEARER_CHALLENGE})
    if is_admin_token(token, getattr(request.app.state, "admin_tokens", frozenset())):
        return
    record = find_token(get_settings(request).home, token)
    if record is None or record.role != "admin":
        raise ProblemError(403, "the bearer token given does not have the admin right", title="Forbidden",
                           type=PROBLEM_BASE + "forbidden")


# The dependencies themselves are coroutines: FastAPI runs a plain ``def`` dependency in its thread pool, one thread
# hop (~0.3 ms of CPU on a small machine) per dependency per request, for what is only an attribute read. The sync
# functions above stay for code that calls them directly.
async def _store_dependency(request: Request) -> Store:
    return get_store(request)


async def _settings_dependency(request: Request) -> Settings:
    return get_settings(request)


#: Route parameter types: ``store: StoreDep`` injects the app's store, ``settings: SettingsDep`` its settings.
StoreDep = Annotated[Store, Depends(_store_dependency)]
SettingsDep = Annotated[Settings, Depends(_settings_dependency)]


__all__ = [
    "BEARER_CHALLENGE", "SettingsDep", "StoreDep", "bearer_token", "get_settings", "get_store", "is_admin_token",
    "require_admin",
]
