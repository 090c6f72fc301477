"""fairkg's settings, read once from the environment (``FAIRKG_*``) and passed down; library code never reads
``os.environ``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of one fairkg home and the service on it."""

    model_config = SettingsConfigDict(env_prefix="FAIRKG_", extra="ignore")

    home: Path = Field(default=Path(".fairkg"), description="Where the graph and the artifacts live.")
    base_iri: str = Field(
        default="http://localhost:8000",
        description="Every resource's IRI is {base_iri}/id/{uuid}; independent of the port the service runs on.",
    )
    store: str | None = Field(
        default=None,
        description="oxigraph:PATH (default: oxigraph:{home}/graph) or sparql:QUERY_URL[,UPDATE_URL].",
    )
    store_user: str | None = Field(
        default=None,
        description="User the sparql: store authenticates as (HTTP digest; Virtuoso: a user granted SPARQL_UPDATE).",
    )
    store_password: str | None = Field(
        default=None, repr=False, description="Password of store_user (FAIRKG_STORE_PASSWORD); never logged."
    )
    query_timeout: float = Field(default=10.0, gt=0, description="Seconds a SPARQL query may run.")
    max_query_bytes: int = Field(default=16 << 20, gt=0, description="Largest SPARQL request body (POST /sparql).")
    max_infer_bytes: int = Field(default=256 << 20, gt=0, description="Largest inference request body (/v2 infer).")
    admin_token: str | None = Field(default=None, description="Bearer token allowed to write through the service.")

    @field_validator("base_iri")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def store_url(self) -> str:
        """The store to open: the configured one, or the embedded store under the home."""
        return self.store or f"oxigraph:{self.home / 'graph'}"

    @property
    def artifacts_dir(self) -> Path:
        """The content-addressed artifact store."""
        return self.home / "artifacts"
