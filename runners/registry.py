"""Which runners exist: the built-in table plus any registered by other packages under the ``fairkg.runners``
entry-point group (``name = "module:Class"``), read once and imported on first use.

fairkg registers its own runners under that group too (see ``pyproject.toml``); the built-in table is the same
list, so a source checkout that was never pip-installed still finds them. Another package adds an accelerator by
declaring an entry point; it cannot replace a built-in name. A runner whose module fails to import (a missing
optional dependency) is reported as unavailable with the reason, and the others still work.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging

from fairkg.runners.base import Runner

__all__ = ["BUILTIN_RUNNERS", "ENTRY_POINT_GROUP", "runner_table", "runners", "unavailable_runners"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "fairkg.runners"
#: runtime name -> "module:Class", fastest first
BUILTIN_RUNNERS: dict[str, str] = {
    "tensorrt": "fairkg.runners.tensorrt_runner:TensorRTRunner",
    "onnxruntime": "fairkg.runners.onnx_runner:OnnxRuntimeRunner",
    "torch": "fairkg.runners.torch_runner:TorchRunner",
}


@functools.cache
def runner_table() -> dict[str, str]:
    """Runtime name -> ``"module:Class"``: the built-ins, then the entry points of other packages."""
    table = dict(BUILTIN_RUNNERS)
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in BUILTIN_RUNNERS:
            if entry.value != BUILTIN_RUNNERS[entry.name]:
                log.warning("ignoring entry point %s = %s: %r is a built-in runner", entry.name, entry.value,
                            entry.name)
            continue
        table[entry.name] = entry.value
    return table


@functools.cache
def _loaded() -> tuple[dict[str, Runner], dict[str, str]]:
    found: dict[str, Runner] = {}
    failed: dict[str, str] = {}
    for name, target in runner_table().items():
        try:
            cls = importlib.metadata.EntryPoint(name, target, ENTRY_POINT_GROUP).load()
        except (ImportError, AttributeError) as exc:
            log.warning("runner %s (%s) is unavailable: %s", name, target, exc)
            failed[name] = f"{target} could not be imported: {exc}"
            continue
        runner = cls()
        if not isinstance(runner, Runner):
            failed[name] = f"{target} does not implement fairkg.runners.Runner"
            continue
        found[name] = runner
    return found, failed


def runners() -> dict[str, Runner]:
    """Every runner that imports here, by runtime name (built-ins first, fastest first), each created once."""
    return dict(_loaded()[0])


def unavailable_runners() -> dict[str, str]:
    """Runners that are registered but could not be imported: name -> why."""
    return dict(_loaded()[1])
