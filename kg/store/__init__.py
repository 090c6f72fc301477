"""Graph stores behind one interface: :class:`Store`, opened from a URL by :func:`open_store`."""

from __future__ import annotations

from pathlib import Path

from fairkg.kg.errors import ConfigurationError
from fairkg.kg.store.base import QueryResult, SelectResult, Store
from fairkg.kg.store.oxigraph import OxigraphStore


def open_store(url: str, *, timeout: float = 10.0, read_only: bool = False) -> Store:
    """Open the store named by ``url``: ``oxigraph:PATH``, ``oxigraph:`` (in memory) or
    ``sparql:QUERY_URL[,UPDATE_URL]``.

    >>> open_store("oxigraph:").count()
    0
    """
    scheme, _, rest = url.partition(":")
    if scheme == "oxigraph":
        return OxigraphStore(Path(rest) if rest else None, default_timeout=timeout, read_only=read_only)
    if scheme == "sparql":
        raise ConfigurationError(
            "the remote SPARQL store backend (sparql:QUERY_URL[,UPDATE_URL]) is not built yet (issue 6); "
            "use oxigraph:PATH"
        )
    raise ConfigurationError(f"unknown store URL {url!r}: expected oxigraph:PATH or sparql:QUERY_URL[,UPDATE_URL]")


__all__ = ["OxigraphStore", "QueryResult", "SelectResult", "Store", "open_store"]
