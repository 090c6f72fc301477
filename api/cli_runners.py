"""``fairkg import`` and ``fairkg check``: Typer command functions for the main app to register, e.g.
``app.command("import")(import_cmd)`` and ``app.command("check")(check_cmd)`` in ``fairkg.api.cli``.

They read the settings the main app's callback puts in ``ctx.obj["settings"]`` (or the environment when run
alone), print data to stdout (only JSON with ``--format json``) and messages to stderr, and exit 1 with a message
on fairkg's errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fairkg.kg.errors import FairkgError
from fairkg.kg.settings import Settings

__all__ = ["check_cmd", "import_cmd"]

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False)

FormatOption = Annotated[str, typer.Option("--format", "-f", help="table (for people) or json (for scripts).")]


def _settings(ctx: typer.Context | None) -> Settings:
    obj = ctx.obj if ctx is not None and isinstance(ctx.obj, dict) else {}
    settings = obj.get("settings")
    return settings if isinstance(settings, Settings) else Settings()


def _fail(exc: Exception) -> typer.Exit:
    _err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(1)


def _check_format(value: str) -> None:
    if value not in ("table", "json"):
        _err.print(f"[bold red]error:[/] --format must be table or json (got {value!r})")
        raise typer.Exit(2)


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def import_cmd(
    directory: Annotated[Path, typer.Argument(help="Folder of a published model: CITATION.cff, ONNX, plans...")],
    out: Annotated[Path | None, typer.Option("--out", help="Where to write card.yaml and the files "
                                                           "(default: ./<folder name>-card).")] = None,
    fmt: FormatOption = "table",
) -> None:
    """Draft a model card for a model published elsewhere, copy its files beside it, and list what is missing."""
    from fairkg.runners.importer import draft, write_draft

    _check_format(fmt)
    try:
        result = draft(directory)
    except (FileNotFoundError, FairkgError) as exc:
        raise _fail(exc) from exc
    target = out or Path.cwd() / f"{directory.resolve().name}-card"
    card = write_draft(result, target)
    if fmt == "json":
        _json({"card": str(card), "files": sorted(result.files), "card_fields": result.card,
               "missing": [{"field": m.field, "required": m.required, "hint": m.hint} for m in result.missing],
               "notes": list(result.notes)})
        return
    _out.print(f"wrote {card} and {len(result.files)} file(s): {', '.join(sorted(result.files))}")
    table = Table(title="What the published files do not say", show_lines=False)
    for column in ("field", "", "what to add"):
        table.add_column(column)
    for item in result.missing:
        table.add_row(item.field, "[red]required[/]" if item.required else "recommended", item.hint)
    _out.print(table)
    for note in result.notes:
        _out.print(f"[dim]note:[/] {note}")
    needed = ", ".join(m.field for m in result.required_missing)
    _out.print(f"complete {card} ({needed or 'nothing required'}), then: fairkg register {card.parent}")


def check_cmd(
    ctx: typer.Context,
    identifier: Annotated[str, typer.Argument(help="The model's DOI, ARK, minid, UUID or IRI.")],
    fmt: FormatOption = "table",
) -> None:
    """Run the model's reference example through every runtime and device here, compare, and record the evidence."""
    from fairkg.kg.identifiers import lookup
    from fairkg.kg.store import open_configured_store
    from fairkg.runners import check_model

    _check_format(fmt)
    settings = _settings(ctx)
    try:
        store = open_configured_store(settings)
    except FairkgError as exc:
        raise _fail(exc) from exc
    try:
        iri = lookup(store, identifier, base_iri=settings.base_iri)
        report = check_model(store, home=settings.home, base_iri=settings.base_iri, model_iri=str(iri))
    except FairkgError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    if fmt == "json":
        _json({
            "model": report.model_iri, "evidence": report.evidence_iri, "tolerance": report.tolerance,
            "within_tolerance": report.within_tolerance,
            "runs": [{"runtime": r.runtime, "runtime_version": r.runtime_version, "device": r.device,
                      "format": r.format, "max_abs_deviation": r.max_abs, "l2_deviation": r.l2,
                      "within_tolerance": r.within_tolerance, "error": r.error} for r in report.runs],
            "pairs": [{"first": p.first, "second": p.second, "max_abs_deviation": p.max_abs, "l2_deviation": p.l2}
                      for p in report.pairs],
            "skipped": [{"option": label, "reason": reason} for label, reason in report.skipped],
        })
        return
    table = Table(title=f"Reference example of {report.model_iri} (tolerance {report.tolerance:g})")
    for column in ("runtime", "format", "device", "max |Δ|", "L2", "within tolerance"):
        table.add_column(column, justify="right" if column in ("max |Δ|", "L2") else "left")
    for run in report.runs:
        verdict = "[green]yes[/]" if run.within_tolerance else f"[red]no[/]{': ' + run.error if run.error else ''}"
        table.add_row(run.runtime, run.format, run.device, "-" if run.max_abs is None else f"{run.max_abs:.3g}",
                      "-" if run.l2 is None else f"{run.l2:.3g}", verdict)
    _out.print(table)
    if report.pairs:
        pairs = Table(title="Runs compared with each other")
        for column in ("first", "second", "max |Δ|", "L2"):
            pairs.add_column(column)
        for pair in report.pairs:
            pairs.add_row(pair.first, pair.second, f"{pair.max_abs:.3g}", f"{pair.l2:.3g}")
        _out.print(pairs)
    for label, reason in report.skipped:
        _out.print(f"[dim]not run here: {label}: {reason}[/]")
    verdict = "reproduces" if report.within_tolerance else "[bold red]does NOT reproduce[/]"
    _out.print(f"the model {verdict} its reference output; evidence recorded as {report.evidence_iri}")
