"""Who is asking, and may they: bearer tokens with roles (RFC 6750, https://www.rfc-editor.org/rfc/rfc6750).

* :func:`current_principal` reads ``Authorization: Bearer TOKEN`` (RFC 6750 §2.1). The service's admin tokens
  (``FAIRKG_ADMIN_TOKEN`` and the local token ``fairkg serve`` writes to ``server.json``) are ``admin``; any other
  token must be an active one of ``$FAIRKG_HOME/tokens.json`` (:mod:`fairkg.kg.tokens`).
* :func:`require_role` is a route dependency: no token, 401 with the challenge ``WWW-Authenticate: Bearer
  realm="fairkg"`` (RFC 6750 §3); an unknown or revoked token, 401 with ``error="invalid_token"`` (§3.1); a valid
  token without the role, 403 with ``error="insufficient_scope"`` (§3.1).
* :func:`ensure_artifact_access` guards the bytes of a record (artifact downloads, RO-Crates, inference): metadata
  is always public, so only these routes call it. A withdrawn record answers 410 Gone whoever asks; a restricted
  one needs a ``reader`` token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from rdflib import URIRef

from fairkg.api.deps import BEARER_CHALLENGE, bearer_token, get_settings, get_store, is_admin_token
from fairkg.api.problems import PROBLEM_BASE, ProblemError
from fairkg.kg.namespaces import FKG, SPARQL_PREFIXES
from fairkg.kg.tokens import ROLES, find_token, role_allows


@dataclass(frozen=True)
class Principal:
    """The holder of a valid token: its name, role and id (None for the service's admin tokens)."""

    name: str
    role: str
    token_id: str | None = None


def current_principal(request: Request) -> Principal | None:
    """The principal of the request's bearer token; None without a token.

    Raises:
        ProblemError: 401 ``invalid_token`` for a token that is unknown or revoked.
    """
    token = bearer_token(request)
    if token is None:
        return None
    if is_admin_token(token, getattr(request.app.state, "admin_tokens", frozenset())):
        return Principal("service admin token", "admin")
    record = find_token(get_settings(request).home, token)
    if record is None:
        raise ProblemError(401, "the bearer token is unknown or was revoked; ask the registry's operator for a "
                           "token (`fairkg token create`)", title="Invalid token", type=PROBLEM_BASE + "invalid-token",
                           headers={"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'})
    return Principal(record.name, record.role, record.id)


def require_role(role: str) -> Callable[[Request], Principal]:
    """A dependency that answers the request's principal if it holds ``role`` (or a larger one), else a problem.

    >>> require_role("publisher").__name__
    'require_publisher'
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal is None:
            raise _unauthenticated(f"this operation needs a bearer token with the {role} role: send "
                                   "`Authorization: Bearer TOKEN`")
        if not role_allows(principal.role, role):
            raise _forbidden(f"the token {principal.name!r} has the {principal.role} role; this operation needs "
                             f"{role}")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


@dataclass(frozen=True)
class Access:
    """Whether a record's artifacts are restricted, and whether it was withdrawn (and why)."""

    record: str
    restricted: bool
    withdrawn: bool
    reason: str | None = None


_ACCESS = SPARQL_PREFIXES + """
SELECT ?record ?rights ?withdrawn ?reason WHERE {
  { BIND(?node AS ?record) } UNION { ?record dcat:distribution|fkg:referenceExample ?node }
  OPTIONAL { ?record dcterms:accessRights ?rights }
  OPTIONAL { ?record fkg:withdrawn ?withdrawn }
  OPTIONAL { ?record fkg:withdrawalReason ?reason }
}"""


def access_of(request: Request, iri: str) -> Access:
    """The access rights of the record ``iri``, or of the record that ``iri`` is a file of (a distribution, a data
    file, a reference example). It queries the store: call it from a worker thread (a sync route), not the loop."""
    store = get_store(request)
    rows = list(store.query(_ACCESS.replace("?node", URIRef(iri).n3())).bindings())
    owners = [row for row in rows if "rights" in row or "withdrawn" in row] or rows
    restricted = any(row.get("rights") == FKG.RestrictedAccess for row in owners)
    withdrawn = [row for row in owners if str(row.get("withdrawn", "")).lower() in ("true", "1")]
    record = str(owners[0]["record"]) if owners else iri
    reason = (str(withdrawn[0].get("reason", "")) or None) if withdrawn else None
    return Access(record, restricted, bool(withdrawn), reason)


def ensure_artifact_access(request: Request, iri: str) -> Access:
    """Allow the request to have the bytes of ``iri`` (a record, or a file of one), or raise the problem to answer.

    Public: allowed. Restricted: 401 with the Bearer challenge without a token, 401 ``invalid_token`` with an
    unknown or revoked one, 403 with a token lacking ``reader`` (every role has it today). Withdrawn: 410 Gone,
    before any token check, since the files no longer exist for anyone; the metadata still resolves.
    """
    access = access_of(request, iri)
    if access.withdrawn:
        because = f" ({access.reason})" if access.reason else ""
        raise ProblemError(410, f"{access.record} was withdrawn{because}; its files were removed. Its metadata "
                           "still resolves.", title="Withdrawn", type=PROBLEM_BASE + "withdrawn",
                           record=access.record)
    if access.restricted:
        principal = current_principal(request)
        if principal is None:
            raise _unauthenticated(f"the artifacts of {access.record} are restricted: send `Authorization: Bearer "
                                   "TOKEN` with a reader token (its metadata is public)")
        if not role_allows(principal.role, "reader"):
            raise _forbidden(f"the token {principal.name!r} may not read restricted artifacts")
    return access


def _unauthenticated(detail: str) -> ProblemError:
    return ProblemError(401, detail, title="Authentication required", type=PROBLEM_BASE + "unauthenticated",
                        headers={"WWW-Authenticate": BEARER_CHALLENGE})


def _forbidden(detail: str) -> ProblemError:
    return ProblemError(403, detail, title="Forbidden", type=PROBLEM_BASE + "forbidden",
                        headers={"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="insufficient_scope"'})

__all__ = ["Access", "Principal", "access_of", "current_principal", "ensure_artifact_access", "require_role"]
