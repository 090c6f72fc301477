"""``fairkg assess``: the FAIR assessment of one model (``ID``) or of every model (``--all``).

For each model it records the registry-level evidence (identifier uniqueness, catalogue listing), runs the HTTP
probes when :mod:`fairkg.api.probes` provides ``run_probes(store, settings, model_iri)``, validates the record
against the fifteen shapes files once, and stores the verdict in ``{model}/fair``. Principles whose evidence is
missing are reported as "could not be checked", never as passed.

Exit status 0 whenever the assessment ran, whatever it found; 1 when it could not run (unknown model, no store).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from fairkg.kg.errors import FairkgError
from fairkg.kg.settings import Settings
from fairkg.kg.store.base import Store

if TYPE_CHECKING:  # kg.fair imports pySHACL: loaded only when a command assesses
    from fairkg.kg.fair import Assessment

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

FORMATS = ("table", "json", "turtle")
#: how each status reads in a table
MARKS = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "not-checked": "[yellow]not checked[/]"}
SHORT = {"pass": "[green]✓[/]", "fail": "[red]✗[/]", "not-checked": "[yellow]?[/]"}
_MODELS = "SELECT ?model WHERE { GRAPH ?model { ?model a <http://www.w3.org/ns/mls#Model> } } ORDER BY ?model"


def assess_cmd(ctx: typer.Context,
               identifier: Annotated[str | None, typer.Argument(help="The model's DOI, ARK, minid, UUID or IRI.")
                                     ] = None,
               all_: Annotated[bool, typer.Option("--all", help="Assess every registered model.")] = False,
               fmt: Annotated[str, typer.Option("--format", "-f", help="table, json, or turtle (the W3C SHACL "
                                                "validation report; one model only).")] = "table") -> None:
    """Assess a model against the FAIR principles for AI models (one SHACL shapes file per sub-principle)."""
    from fairkg.api.cli import _reading_store, _settings

    if fmt not in FORMATS:
        err.print(f"[bold red]error:[/] --format must be one of {', '.join(FORMATS)} (got {fmt!r})")
        raise typer.Exit(2)
    if (identifier is None) == (not all_):
        err.print("[bold red]error:[/] give a model's identifier, or --all (not both)")
        raise typer.Exit(2)
    if all_ and fmt == "turtle":
        err.print("[bold red]error:[/] --format turtle writes one model's SHACL report: give its identifier")
        raise typer.Exit(2)
    settings = _settings(ctx)
    try:
        store = _reading_store(settings)
        try:
            if identifier is not None:
                _one(store, settings, identifier, fmt)
            else:
                _every(store, settings, fmt)
        finally:
            store.close()
    except FairkgError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc


def assess_model(store: Store, settings: Settings, model_iri: str) -> Assessment:
    """Run the probes (when available), assess the model, store the verdict; return the Assessment."""
    from fairkg.kg.fair import assess, store_verdict

    probes = http_probes()
    if probes is not None:
        probes(store, settings, model_iri)
    assessment = assess(store, model_iri, base_iri=settings.base_iri)
    store_verdict(store, assessment)
    return assessment


def http_probes() -> Callable[..., Any] | None:
    """``fairkg.api.probes.run_probes`` when that module exists, else None (the service observations then stay as
    recorded, and missing ones make their principles "could not be checked")."""
    if importlib.util.find_spec("fairkg.api.probes") is None:
        return None
    return getattr(importlib.import_module("fairkg.api.probes"), "run_probes", None)


def _one(store: Store, settings: Settings, identifier: str, fmt: str) -> None:
    from fairkg.kg.identifiers import lookup

    iri = lookup(store, identifier, base_iri=settings.base_iri)
    assessment = assess_model(store, settings, str(iri))
    if fmt == "json":
        sys.stdout.write(json.dumps(assessment.to_json(), indent=2) + "\n")
    elif fmt == "turtle":
        sys.stdout.write(assessment.report.serialize(format="turtle"))
    else:
        _print_assessment(assessment)


def _every(store: Store, settings: Settings, fmt: str) -> None:
    """Probe every model over HTTP (when the probes are available), then assess them together
    (:func:`fairkg.kg.fair_batch.assess_many`: the same verdicts as one by one, ~2x faster, more with CPUs)."""
    from fairkg.kg.fair_batch import assess_many

    models = [str(row["model"]) for row in store.query(_MODELS).bindings()]
    probes = http_probes()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
                  transient=True, disable=not models) as bar:
        if probes is not None:
            task = bar.add_task("probing", total=len(models))
            for model in models:
                probes(store, settings, model)
                bar.advance(task)
        task = bar.add_task("assessing", total=len(models))
        done = list(assess_many(store, models, base_iri=settings.base_iri,
                                progress=lambda n: bar.advance(task, n)))
    if fmt == "json":
        sys.stdout.write(json.dumps([a.to_json() for a in done], indent=2) + "\n")
        return
    from fairkg.kg.fair import PRINCIPLES

    table = Table(title=f"FAIR assessment of {len(done)} models (✓ pass, ✗ fail, ? could not be checked)",
                  title_justify="left")
    table.add_column("model", no_wrap=True)
    for principle in PRINCIPLES:
        table.add_column(principle, justify="center")
    table.add_column("passed", justify="right")
    for assessment in done:
        table.add_row(assessment.identifier or assessment.model,
                      *(SHORT[assessment.status(p)] for p in PRINCIPLES), f"{assessment.passed}/{assessment.total}")
    if not out.is_terminal:  # into a pipe or a file rich assumes 80 columns, where 17 columns collapse to nothing
        out.width = max(out.width, 160)
    out.print(table)


def _print_assessment(assessment: Assessment) -> None:
    out.print(f"[bold]{assessment.identifier or assessment.model}[/]  {assessment.model}")
    out.print(f"passes {assessment.passed} of {assessment.total} FAIR principles (shapes {assessment.shapes_version})")
    table = Table(show_lines=False)
    table.add_column("principle")
    table.add_column("status")
    table.add_column("what to do")
    for principle, result in assessment.principles.items():
        advice = [f.message for f in result.violations] + [f"[dim](advice) {f.message}[/]" for f in result.warnings]
        table.add_row(principle, MARKS[result.status], "\n".join(advice) or "")
    out.print(table)


__all__ = ["assess_cmd", "assess_model", "http_probes"]
