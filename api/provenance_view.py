"""``fairkg provenance`` for people: the recorded provenance of a model as rich tables (like dtoolai-provenance)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fairkg.kg.describe import Provenance


def render_provenance(console: Console, record: Provenance) -> None:
    """Print ``record``: run, code, machine, training data, hyperparameters, metrics, software."""
    console.print(f"[bold]{record.title or record.model}[/]  {record.model}")
    if record.run is None:
        console.print("[yellow]no training run is recorded for this model[/]")
        return
    console.print(f"trained by run {record.run}\n  from {record.started} to {record.ended}")
    code = f"{record.code} {record.code_version or ''}".strip()
    console.print(f"  code     {code}" + (f" (commit {record.commit})" if record.commit else ""))
    console.print(f"  machine  {record.hardware or 'not recorded'}" + (f"; GPUs: {', '.join(record.gpus)}"
                                                                          if record.gpus else ""))
    console.print(f"  python   {record.python or 'not recorded'}")
    data = Table("training dataset", "DOI", "licence", "file", "sha256", title="Training data")
    for ds in record.datasets:
        for i, (name, sha) in enumerate(ds.files or [("", "")]):
            data.add_row(ds.title or ds.iri if i == 0 else "", (ds.doi or "") if i == 0 else "",
                         (ds.licence or "none") if i == 0 else "", name, sha)
    console.print(data)
    params = Table("hyperparameter", "value", title="Hyperparameters")
    for name, value in record.hyperparameters:
        params.add_row(name, value)
    console.print(params)
    if record.preprocessing:
        console.print("Preprocessing:")
        for step in record.preprocessing:
            console.print(f"  - {step}")
    if record.epochs:
        names = sorted({name for _, name, _ in record.epochs})
        epochs = Table("epoch", *names, title="Per-epoch metrics")
        by_epoch: dict[int, dict[str, float]] = {}
        for epoch, name, value in record.epochs:
            by_epoch.setdefault(epoch, {})[name] = value
        for epoch in sorted(by_epoch):
            epochs.add_row(str(epoch), *(f"{by_epoch[epoch].get(n, float('nan')):.4g}" for n in names))
        console.print(epochs)
    if record.evaluations:
        evals = Table("metric", "value", "split", title="Evaluations")
        for name, value, split in record.evaluations:
            evals.add_row(name, f"{value:.4g}", split or "")
        console.print(evals)
    software = Table("package", "version", title="Software")
    for name, version in record.software:
        software.add_row(name, version)
    console.print(software)
