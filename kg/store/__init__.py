"""Graph stores behind one interface: :class:`Store`, opened from a URL by :func:`open_store`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fairkg.kg.errors import ConfigurationError
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import QueryResult, SelectResult, Store
from fairkg.kg.store.oxigraph import OxigraphStore

if TYPE_CHECKING:
    from fairkg.kg.store.sparql import SparqlStore


def open_store(url: str, *, timeout: float = 10.0, read_only: bool = False, user: str | None = None,
               password: str | None = None) -> Store:
    """Open the store named by ``url``: ``oxigraph:PATH``, ``oxigraph:`` (in memory) or
    ``sparql:QUERY_URL[,UPDATE_URL]`` (any SPARQL 1.1 endpoint; ``user`` and ``password``, from
    ``FAIRKG_STORE_USER`` / ``FAIRKG_STORE_PASSWORD``, authenticate to it).

    Raises:
        ConfigurationError: an unknown scheme, a sparql: URL that is no http(s) URL, or SPARQLWrapper missing.

    >>> open_store("oxigraph:").count()
    0
    >>> open_store("sparql:http://127.0.0.1:8890/sparql,http://127.0.0.1:8890/sparql-auth").update_url
    'http://127.0.0.1:8890/sparql-auth'
    """
    scheme, _, rest = url.partition(":")
    if scheme == "oxigraph":
        return OxigraphStore(Path(rest) if rest else None, default_timeout=timeout, read_only=read_only)
    if scheme == "sparql":
        query_url, _, update_url = (part.strip() for part in rest.partition(","))
        for endpoint in filter(None, (query_url, update_url)):
            if not endpoint.startswith(("http://", "https://")):
                raise ConfigurationError(f"store URL {url!r}: {endpoint!r} is no http(s) URL; expected "
                                         "sparql:QUERY_URL[,UPDATE_URL]")
        if not query_url:
            raise ConfigurationError(f"store URL {url!r} names no query endpoint: "
                                     "expected sparql:QUERY_URL[,UPDATE_URL]")
        return _sparql_store()(query_url, update_url or None, user=user, password=password, default_timeout=timeout,
                               read_only=read_only)
    raise ConfigurationError(f"unknown store URL {url!r}: expected oxigraph:PATH or sparql:QUERY_URL[,UPDATE_URL]")


def _sparql_store() -> type[SparqlStore]:
    try:
        from fairkg.kg.store.sparql import SparqlStore
    except ImportError as exc:  # SPARQLWrapper is needed only by this backend
        raise ConfigurationError("the sparql: store needs SPARQLWrapper: pip install SPARQLWrapper") from exc
    return SparqlStore


def __getattr__(name: str) -> object:
    if name == "SparqlStore":  # imported on first use: it needs SPARQLWrapper, which only this backend uses
        return _sparql_store()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["OxigraphStore", "QueryResult", "SelectResult", "SparqlStore", "Store", "open_configured_store",
           "open_store"]


def open_configured_store(settings: Settings, *, read_only: bool = False) -> Store:
    """Open the store ``settings`` name, with its deadline and credentials (the one place that reads them)."""
    return open_store(settings.store_url, timeout=settings.query_timeout, read_only=read_only,
                      user=settings.store_user, password=settings.store_password)
