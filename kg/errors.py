"""fairkg.kg's errors, one hierarchy::

    FairkgError
    ├── ConfigurationError        settings that cannot work (unknown store URL scheme ...)
    ├── StoreError                the graph store failed (I/O, locked home)
    │   ├── QuerySyntaxError      SPARQL that does not parse (also a SyntaxError)
    │   └── QueryTimeoutError     a query ran past its deadline
    ├── IdentifierError           a string that is no identifier fairkg understands (also a ValueError)
    ├── NotFoundError             no resource for an identifier
    ├── CardError                 a model or dataset card that does not validate; names the field
    ├── ArtifactError             a missing artifact file, or one whose checksum does not match
    ├── RegistrationError         refused registration (changed content under an existing DOI ...)
    └── ProvenanceError           a training recorder used out of order, or given a value it cannot record
"""

from __future__ import annotations


class FairkgError(Exception):
    """Base of every error fairkg.kg raises on purpose."""


class ConfigurationError(FairkgError):
    """Settings that cannot work."""


class StoreError(FairkgError):
    """The graph store failed."""


class QuerySyntaxError(StoreError, SyntaxError):
    """A SPARQL query or update that does not parse."""


class QueryTimeoutError(StoreError, TimeoutError):
    """A query ran past its deadline and was abandoned."""


class IdentifierError(FairkgError, ValueError):
    """A string that is not an identifier fairkg can parse."""


class NotFoundError(FairkgError, LookupError):
    """No resource in the graph for an identifier."""


class CardError(FairkgError, ValueError):
    """A card that does not validate. ``field`` is the dotted path of the first bad field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ArtifactError(FairkgError):
    """An artifact file that is missing or whose SHA-256 does not match the graph."""


class RegistrationError(FairkgError):
    """A registration that was refused; nothing was written."""


class ProvenanceError(FairkgError, RuntimeError):
    """The recorder was used out of order (no dataset, no finished run) or given a value it cannot record."""
