"""``fairkg token create|list|revoke``: the bearer tokens of a home (:mod:`fairkg.kg.tokens`).

Tokens live in ``$FAIRKG_HOME/tokens.json``, outside the graph store, so these commands work while ``fairkg serve``
runs on the home, and the server honours a new or revoked token at its next request. Self-contained (it does not
import :mod:`fairkg.api.cli`, which adds this app), so either module can be imported first.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fairkg.kg.errors import FairkgError
from fairkg.kg.settings import Settings
from fairkg.kg.tokens import ROLES, create_token, list_tokens, revoke_token, tokens_file

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Bearer tokens with roles (reader of restricted models, publisher, admin), stored hashed.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

FormatOption = Annotated[str, typer.Option("--format", "-f", help="table (for people) or json (for scripts).")]


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.ensure_object(dict).get("settings")
    return settings if isinstance(settings, Settings) else Settings()


def _fail(exc: FairkgError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(1)


def _check_format(value: str) -> None:
    if value not in ("table", "json"):
        err.print(f"[bold red]error:[/] --format must be one of table, json (got {value!r})")
        raise typer.Exit(2)


@app.command()
def create(ctx: typer.Context,
           name: Annotated[str, typer.Option("--name", help="Who or what holds the token (a person, a CI job).")],
           role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}; each includes the ones "
                                                            "before it.")] = "reader",
           fmt: FormatOption = "table") -> None:
    """Create a token and print it once: only its SHA-256 is kept, so it cannot be shown again."""
    _check_format(fmt)
    home = _settings(ctx).home
    try:
        issued = create_token(home, name=name, role=role)
    except FairkgError as exc:
        raise _fail(exc) from exc
    record = issued.record
    if fmt == "json":
        doc = {"id": record.id, "name": record.name, "role": record.role, "created": record.created,
               "token": issued.token}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    out.print(issued.token)
    err.print(f"token {record.id} ({record.role}) for {record.name}: shown once, store it now. Send it as "
              "`Authorization: Bearer TOKEN`; revoke it with `fairkg token revoke "
              f"{record.id}`.")


@app.command("list")
def list_(ctx: typer.Context, fmt: FormatOption = "table") -> None:
    """List the tokens of this home (never the tokens themselves: only their hashes are kept, and not shown)."""
    _check_format(fmt)
    home = _settings(ctx).home
    try:
        records = list_tokens(home)
    except FairkgError as exc:
        raise _fail(exc) from exc
    if fmt == "json":
        docs = [{"id": r.id, "name": r.name, "role": r.role, "created": r.created, "revoked": r.revoked}
                for r in records]
        sys.stdout.write(json.dumps(docs, indent=2) + "\n")
        return
    table = Table("id", "name", "role", "created", "revoked")
    for r in records:
        table.add_row(r.id, r.name, r.role, r.created, r.revoked or "")
    out.print(table)
    err.print(f"{len(records)} tokens in {tokens_file(home)}")


@app.command()
def revoke(ctx: typer.Context, token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id.")]) -> None:
    """Revoke a token: it is refused from the next request on (the record stays, marked revoked)."""
    try:
        record = revoke_token(_settings(ctx).home, token_id)
    except FairkgError as exc:
        raise _fail(exc) from exc
    err.print(f"revoked {record.id} ({record.role}, {record.name}) at {record.revoked}")


__all__ = ["app"]
