"""``fairkg run ID --dataset DATASET_ID``: run a registered model over a split of a registered dataset, write the
predictions to HDF5 (an HDMF-AI ResultsTable) and record the run in the graph.

Wired into :mod:`fairkg.api.cli` as ``app.command("run")(run_cmd)``; the CLI's helpers (``_settings``,
``_open_store``, ``handles_errors``) are imported when the command runs, so either module may be imported first.
While ``fairkg serve`` holds the home's store, the run goes through the server (``POST /models/{key}/runs``);
otherwise it opens the store and runs here, with a progress bar on stderr. With ``--format json`` stdout holds only
the JSON.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fairkg.kg.errors import FairkgError
from fairkg.kg.settings import Settings

__all__ = ["run_cmd"]

FormatOption = Annotated[str, typer.Option("--format", "-f", help="table (for people) or json (for scripts).")]


def run_cmd(ctx: typer.Context,
            identifier: Annotated[str, typer.Argument(help="The model: DOI, ARK, minid, UUID or IRI.")],
            dataset: Annotated[str, typer.Option("--dataset", "-d", help="The dataset's identifier.")],
            split: Annotated[str, typer.Option(help="The split to run on (HDF5 group /<split>).")] = "test",
            device: Annotated[str | None, typer.Option(help="cpu, cuda or cuda:N (default: the fastest).")] = None,
            runtime: Annotated[str | None, typer.Option(help="onnxruntime, torch or tensorrt (default: the fastest)."
                                                        )] = None,
            batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Samples per batch.")] = 64,
            fmt: FormatOption = "table") -> None:
    """Run a model over a dataset split: results in HDF5 (HDMF-AI ResultsTable), the run recorded in the graph."""
    from fairkg.api import cli

    cli.handles_errors(_run)(ctx, identifier, dataset, split, device, runtime, batch_size, fmt)


def _run(ctx: typer.Context, identifier: str, dataset: str, split: str, device: str | None, runtime: str | None,
         batch_size: int, fmt: str) -> None:
    from fairkg.api.cli import _check_format, _print_json, _server_for, _settings, err, out

    _check_format(fmt, ("table", "json"))
    settings = _settings(ctx)
    remote = _server_for(settings)
    if remote is not None:  # `fairkg serve` holds the store (DESIGN.md, "The store"): run through it
        from fairkg.api.client import Client, ClientError

        with Client(remote.url, remote.token, timeout=3600.0) as client:
            try:
                err.print(f"running on the server at {remote.url} …")
                result = client.start_run(identifier, dataset, split=split, runtime=runtime, device=device,
                                          batch_size=batch_size)
            except ClientError as exc:
                raise FairkgError(exc.detail) from exc
        result["results_file"] = None
    else:
        result = _run_here(settings, identifier, dataset, split=split, device=device, runtime=runtime,
                           batch_size=batch_size, quiet=fmt == "json")
    if fmt == "json":
        _print_json(result)
        return
    out.print(f"[bold]run[/]      {result['iri']}")
    out.print(f"model     {result.get('model', identifier)} on {result['runtime']} / {result['device']}")
    out.print(f"samples   {result['sample_count']} ({result['throughput']:.1f} samples/s)")
    for name, value in sorted(result["metrics"].items()):
        out.print(f"{name:<9} {value:.6g}")
    out.print(f"results   {result['results']}" + (f"\n          {result['results_file']}" if result["results_file"]
                                                  else ""))


def _run_here(settings: Settings, identifier: str, dataset: str, *, split: str, device: str | None,
              runtime: str | None, batch_size: int, quiet: bool) -> dict[str, Any]:
    from fairkg.api.cli import _open_store, err
    from fairkg.kg.identifiers import lookup
    from fairkg.runners.dataset_run import run_on_dataset

    store = _open_store(settings)
    try:
        model_iri = lookup(store, identifier, base_iri=settings.base_iri)
        dataset_iri = lookup(store, dataset, base_iri=settings.base_iri)
        progress = Progress(TextColumn(f"{split:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err, disable=quiet, transient=False)
        with progress:
            task = progress.add_task("samples", total=None)

            def report(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            done = run_on_dataset(store, home=settings.home, base_iri=settings.base_iri, model_iri=str(model_iri),
                                  dataset_iri=str(dataset_iri), split=split, runtime=runtime, device=device,
                                  batch_size=batch_size, progress=report)
    finally:
        store.close()
    result = done.as_dict()
    result.update(model=str(model_iri), dataset=str(dataset_iri), results_file=str(done.results_path))
    return result

