"""The ``fairkg`` command line (Typer + rich).

Data go to stdout (with ``--format json``, stdout holds only the JSON); progress, logs and errors go to stderr.
Every command exits 0 when it did its job and 1 with a message saying what to do when it could not.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from fairkg.api.cli_fair import assess_cmd
from fairkg.api.cli_infer import run_cmd
from fairkg.api.cli_runners import check_cmd, import_cmd
from fairkg.api.cli_tokens import app as token_app
from fairkg.kg.errors import FairkgError
from fairkg.kg.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="fairkg: a knowledge graph of FAIR AI models, with provenance captured while training.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])

FormatOption = Annotated[str, typer.Option("--format", "-f", help="table (for people) or json (for scripts).")]


def _settings(ctx: typer.Context) -> Settings:
    return ctx.ensure_object(dict)["settings"]


def _open_store(settings: Settings, *, read_only: bool = False):  # noqa: ANN202 - a Store
    from fairkg.kg.store import open_configured_store

    return open_configured_store(settings, read_only=read_only)


def _server_for(settings: Settings):  # noqa: ANN202 - a fairkg.api.remote.Server or None
    """The live `fairkg serve` of this home (from its server.json), or None: then commands open the store."""
    from fairkg.api.remote import server_for

    return server_for(settings)


def _remote_store(remote, settings: Settings):  # noqa: ANN001, ANN202 - a Server; a RemoteStore
    from fairkg.api.remote import remote_store

    return remote_store(remote, settings)


def _reading_store(settings: Settings):  # noqa: ANN202 - a Store
    """The store to read from: through `fairkg serve` when it runs on this home (it holds the store), else direct."""
    remote = _server_for(settings)
    return _remote_store(remote, settings) if remote is not None else _open_store(settings)


def handles_errors(func: F) -> F:
    """Turn fairkg's errors into a red message on stderr and exit status 1 (no traceback for expected failures)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FairkgError as exc:
            err.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(1) from exc

    return wrapper  # type: ignore[return-value]


def _check_format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        err.print(f"[bold red]error:[/] --format must be one of {', '.join(allowed)} (got {value!r})")
        raise typer.Exit(2)
    return value


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@app.callback()
def main(ctx: typer.Context,
         home: Annotated[Path | None, typer.Option("--home", help="Registry home (default $FAIRKG_HOME or ./.fairkg).")
                         ] = None) -> None:
    """Settings are read once here (environment FAIRKG_*, then flags) and passed to every command."""
    settings = Settings() if home is None else Settings(home=home)
    ctx.ensure_object(dict)["settings"] = settings


@app.command("card-schema")
def card_schema() -> None:
    """Print the JSON Schema of model and dataset cards."""
    from fairkg.kg.cards import card_json_schema

    sys.stdout.write(card_json_schema() + "\n")


@app.command()
@handles_errors
def register(ctx: typer.Context,
             paths: Annotated[list[Path], typer.Argument(help="Cards (YAML) or folders holding card.yaml; several "
                                                         "are registered together, datasets first.")],
             new_version: Annotated[bool, typer.Option(help="Publish changed content as a new version.")] = False,
             workers: Annotated[int | None, typer.Option(
                 min=0, help="Processes reading cards and building records when registering many (default: one "
                             "per CPU from 200 cards; 0: none).")] = None,
             fmt: FormatOption = "table") -> None:
    """Register models and datasets from their cards and files (each validated before it is written)."""
    from fairkg.kg.register import register as register_card
    from fairkg.kg.register import register_many

    _check_format(fmt, ("table", "json"))
    settings = _settings(ctx)
    remote = _server_for(settings)
    if remote is not None:  # `fairkg serve` holds the store: register through it (DESIGN.md, "The store")
        from fairkg.api.remote import register_remote

        done = [register_remote(remote, path, new_version=new_version) for path in paths]
    else:
        store = _open_store(settings)
        try:
            if len(paths) == 1:
                done = [register_card(store, paths[0], home=settings.home, base_iri=settings.base_iri,
                                      new_version=new_version)]
            else:
                with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
                              transient=True) as bar:
                    reading = bar.add_task("reading cards", total=len(paths))
                    writing = bar.add_task("registering", total=len(paths))
                    done = register_many(store, paths, home=settings.home, base_iri=settings.base_iri,
                                         new_version=new_version, workers=workers,
                                         progress=lambda _r: bar.advance(writing),
                                         read_progress=lambda n: bar.advance(reading, n))
        finally:
            store.close()
    if fmt == "json":
        _print_json(done[0].__dict__ if len(paths) == 1 else [d.__dict__ for d in done])
    else:
        for one in done:
            out.print(f"{one.kind} {one.doi}: {one.status}\n  iri {one.iri}\n  key {one.key}")


@app.command()
@handles_errors
def withdraw(ctx: typer.Context, identifier: Annotated[str, typer.Argument(help="DOI, ARK, minid, UUID or IRI.")],
             reason: Annotated[str, typer.Option(help="Why it is withdrawn (kept in the tombstone).")]) -> None:
    """Withdraw a model or dataset: its files are deleted, its metadata stays as a tombstone."""
    from fairkg.kg.register import withdraw as withdraw_record

    settings = _settings(ctx)
    remote = _server_for(settings)
    if remote is not None:  # `fairkg serve` holds the store: withdraw through it
        from fairkg.api.remote import remote_store, withdraw_remote

        store = remote_store(remote, settings)
        try:
            done = withdraw_remote(remote, store, identifier, base_iri=settings.base_iri, reason=reason)
        finally:
            store.close()
    else:
        store = _open_store(settings)
        try:
            done = withdraw_record(store, identifier, home=settings.home, base_iri=settings.base_iri, reason=reason)
        finally:
            store.close()
    out.print(f"withdrawn {done.doi or done.iri}: metadata kept, files removed")


@app.command()
@handles_errors
def query(ctx: typer.Context, sparql: Annotated[str, typer.Argument(help="A SPARQL 1.1 query (or @FILE).")],
          fmt: Annotated[str, typer.Option("--format", "-f", help="table, json (SPARQL 1.1 JSON results) or csv.")
                         ] = "table") -> None:
    """Run a SPARQL query over the whole registry (the union of its named graphs)."""
    from fairkg.api.sparql_results import write_ask, write_select

    _check_format(fmt, ("table", "json", "csv"))
    if sparql.startswith("@"):
        sparql = Path(sparql[1:]).read_text(encoding="utf-8")
    settings = _settings(ctx)
    store = _reading_store(settings)
    try:
        result = store.query(sparql)
    finally:
        store.close()
    if result.kind == "graph":
        assert result.graph is not None
        sys.stdout.write(result.graph.serialize(format="turtle"))
    elif result.kind == "ask" and fmt != "table":
        sys.stdout.write(write_ask(bool(result.boolean), "json").decode() + "\n")
    elif fmt in ("json", "csv"):
        assert result.select is not None
        sys.stdout.write(write_select(result.select, fmt).decode() + ("\n" if fmt == "json" else ""))
    elif result.kind == "ask":
        out.print(str(result.boolean).lower())
    else:
        assert result.select is not None
        table = Table(*result.select.variables)
        for row in result.select.rows:
            table.add_row(*(str(row.get(v, "")) for v in result.select.variables))
        out.print(table)
        err.print(f"{len(result.select.rows)} rows")


@app.command()
@handles_errors
def resolve(ctx: typer.Context, identifier: Annotated[str, typer.Argument(help="DOI, ARK, minid, UUID or IRI.")],
            fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or turtle.")] = "table") -> None:
    """Find the resource an identifier names: its IRI, key and identifiers (or its description as Turtle)."""
    from fairkg.kg.describe import resolved
    from fairkg.kg.identifiers import lookup

    _check_format(fmt, ("table", "json", "turtle"))
    settings = _settings(ctx)
    store = _reading_store(settings)
    try:
        iri = lookup(store, identifier, base_iri=settings.base_iri)
        if fmt == "turtle":
            sys.stdout.write(store.describe(str(iri)).serialize(format="turtle"))
            return
        found = resolved(store, iri)
    finally:
        store.close()
    if fmt == "json":
        _print_json(found.as_dict())
        return
    out.print(f"[bold]{found.title or found.iri}[/]\n  iri  {found.iri}\n  key  {found.key}")
    for ident in found.identifiers:
        out.print(f"  {ident['scheme']:<5} {ident['value']}")


@app.command()
@handles_errors
def provenance(ctx: typer.Context, identifier: Annotated[str, typer.Argument(help="The model's identifier.")],
               fmt: FormatOption = "table") -> None:
    """Print how a model was made: training data (with checksums), hyperparameters, software, hardware, metrics."""
    from fairkg.api.provenance_view import render_provenance
    from fairkg.kg.describe import provenance as model_provenance
    from fairkg.kg.identifiers import lookup

    _check_format(fmt, ("table", "json"))
    settings = _settings(ctx)
    store = _reading_store(settings)
    try:
        record = model_provenance(store, lookup(store, identifier, base_iri=settings.base_iri))
    finally:
        store.close()
    if fmt == "json":
        import dataclasses

        _print_json(dataclasses.asdict(record))
    else:
        render_provenance(out, record)


@app.command()
@handles_errors
def dump(ctx: typer.Context,
         archive: Annotated[Path, typer.Argument(help="Archive to write (.tar or .tar.gz).")]) -> None:
    """Back up the whole registry (graph as N-Quads, and every artifact) into one archive."""
    from fairkg.kg.backup import dump_registry

    settings = _settings(ctx)
    store = _open_store(settings)
    try:
        summary = dump_registry(store, settings.home, archive)
    finally:
        store.close()
    err.print(f"wrote {archive}: {summary.quads} quads, {summary.artifacts} artifacts"
              + (f" ({len(summary.missing)} withdrawn or missing)" if summary.missing else ""))


@app.command()
@handles_errors
def restore(ctx: typer.Context,
            archive: Annotated[Path, typer.Argument(help="An archive from `fairkg dump`.")]) -> None:
    """Replace the registry by a backup, after checking every checksum in it."""
    from fairkg.kg.backup import restore_registry

    if not archive.is_file():
        raise FairkgError(f"no such archive: {archive}")
    settings = _settings(ctx)
    store = _open_store(settings)
    try:
        summary = restore_registry(store, settings.home, archive)
    finally:
        store.close()
    err.print(f"restored {summary.quads} quads and {summary.artifacts} artifacts into {settings.home}")


@app.command()
@handles_errors
def demo(ctx: typer.Context,
         serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the registry once it is built.")
                          ] = True,
         rebuild: Annotated[bool, typer.Option(help="Retrain the examples even if a build exists.")] = False,
         host: str = "127.0.0.1", port: int = 8000) -> None:
    """Build the demo registry (train, export and register the example models), then serve it."""
    from fairkg.api.demo import build_demo

    settings = _settings(ctx)
    build_demo(settings, console=err, rebuild=rebuild)
    if serve:
        _serve(settings, host, port)


def _serve(settings: Settings, host: str, port: int) -> None:
    from fairkg.api.server import serve as run_server

    err.print(f"serving {settings.home} on http://{host}:{port}/ (Ctrl-C stops)")
    run_server(settings, host=host, port=port)


@app.command()
@handles_errors
def serve(ctx: typer.Context, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the registry: SPARQL endpoint, resolver and pages."""
    _serve(_settings(ctx), host, port)


app.add_typer(token_app, name="token")  # fairkg token create|list|revoke
app.command("import")(import_cmd)  # fairkg import DIR: draft a card from a published model's files
app.command("check")(check_cmd)  # fairkg check ID: reference output through every runtime here
app.command("assess")(assess_cmd)  # fairkg assess ID|--all: FAIR verdict per sub-principle
app.command("run")(run_cmd)  # fairkg run ID --dataset DATASET: a dataset run, recorded in the graph
