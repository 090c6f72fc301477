"""``fairkg demo``: train, export and register the example models into the registry home, idempotently.

The examples are built once into ``{home}/demo-build`` (training is deterministic but its timestamps are not);
a later run re-registers the same cards and files, which is a no-op, so running the demo twice leaves the same
models and triples. ``--rebuild`` retrains and replaces the demo records in place (the demo's DOIs are its own,
under the test prefix 10.5072).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from fairkg.kg.register import Registration, register
from fairkg.kg.settings import Settings
from fairkg.kg.store import Store, open_configured_store

BUILD_DIR = "demo-build"
DONE_MARKER = ".complete"


def build_demo(settings: Settings, *, console: Console, rebuild: bool = False) -> list[Registration]:
    """Build (or reuse) the example card folders and register them; return what each registration did."""
    from fairkg.examples import build_all

    build = settings.home / BUILD_DIR
    if rebuild or not (build / DONE_MARKER).is_file():
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir(parents=True)
        started = time.perf_counter()
        with _progress(console) as progress:
            tasks: dict[str, int] = {}

            def report(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = progress.add_task(step, total=total)
                progress.update(tasks[step], completed=done, total=total)

            folders = build_all(build, progress=report)
        (build / DONE_MARKER).write_text("\n".join(str(f.relative_to(build)) for f in folders) + "\n")
        console.print(f"trained and exported {len(folders)} cards in {time.perf_counter() - started:.0f} s")
    else:
        folders = [build / line for line in (build / DONE_MARKER).read_text().split()]
        console.print(f"reusing the example build in {build} (--rebuild retrains)")
    store = open_configured_store(settings)
    try:
        done = [register(store, folder, home=settings.home, base_iri=settings.base_iri, replace=rebuild)
                for folder in folders]
        for reg in done:
            console.print(f"  {reg.kind:<7} {reg.doi:<45} {reg.status}")
        assess_demo(store, settings, [reg for reg in done if reg.kind == "model"], console=console)
    finally:
        store.close()
    return done


def assess_demo(store: Store, settings: Settings, models: list[Registration], *, console: Console) -> None:
    """Probe and assess every demo model and store its verdict (`fairkg assess` then reads the same evidence): the
    HTTP probes go through the service in-process, the reference input through every runtime here."""
    from fairkg.api.cli_fair import assess_model

    started = time.perf_counter()
    with _progress(console) as progress:
        task = progress.add_task("FAIR probes and assessment", total=len(models))
        results = []
        for reg in models:
            progress.update(task, description=f"FAIR: {reg.doi}")
            results.append((reg, assess_model(store, settings, reg.iri)))
            progress.advance(task)
        progress.update(task, description="FAIR probes and assessment")
    for reg, assessment in results:
        failing = assessment.with_status("fail") + [f"{p}?" for p in assessment.with_status("not-checked")]
        console.print(f"  {reg.doi:<45} FAIR {assessment.passed}/{assessment.total}"
                      + (f"  (not passed: {', '.join(failing)})" if failing else ""))
    console.print(f"assessed {len(results)} models in {time.perf_counter() - started:.0f} s "
                  "(`fairkg assess ID` says why; `/fair` shows the matrix)")


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:<40}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=console)


def demo_folders(home: Path) -> list[Path]:
    """The card folders of the last demo build under ``home`` (empty if none)."""
    marker = home / BUILD_DIR / DONE_MARKER
    return [home / BUILD_DIR / line for line in marker.read_text().split()] if marker.is_file() else []
