"""The architectures a safetensors distribution may name: found through the ``fairkg.architectures`` entry-point
group (``name = "module:callable"``), never through the record.

A model record says ``fkg:architecture "fairkg.digits-cnn"``; that name is only a key into this table, which the
operator controls by what is installed: fairkg registers its three example architectures (see
``pyproject.toml``), and another package may add more by declaring entry points. Code named by a record is never
imported. The constructors take no arguments (their defaults are the trained settings).
"""

from __future__ import annotations

import functools
import importlib.metadata
from typing import TYPE_CHECKING

from fairkg.runners.errors import ArchitectureError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["BUILTIN_ARCHITECTURES", "ENTRY_POINT_GROUP", "build_architecture", "registered_architectures"]

ENTRY_POINT_GROUP = "fairkg.architectures"
#: fairkg's own, the same as its entry points, so a checkout that was never pip-installed still finds them
BUILTIN_ARCHITECTURES: dict[str, str] = {
    "fairkg.digits-cnn": "fairkg.examples.architectures:DigitsCNN",
    "fairkg.braggnn": "fairkg.examples.architectures:BraggNN",
    "fairkg.interaction-network": "fairkg.examples.architectures:InteractionNetwork",
}


@functools.cache
def registered_architectures() -> dict[str, str]:
    """Architecture name -> ``"module:callable"``: fairkg's own and those other installed packages register."""
    table = dict(BUILTIN_ARCHITECTURES)
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        table.setdefault(entry.name, entry.value)
    return table


def build_architecture(name: str) -> nn.Module:
    """A fresh, untrained network of the registered architecture ``name``.

    Raises:
        ArchitectureError: ``name`` is not registered here (lists those that are), or its constructor failed to
            import.
    """
    table = registered_architectures()
    target = table.get(name)
    if target is None:
        known = ", ".join(sorted(table)) or "none"
        raise ArchitectureError(
            f"the weights name the architecture {name!r}, which is not registered here (registered: {known}); "
            "an operator allows more by installing a package that declares them under the "
            f"{ENTRY_POINT_GROUP!r} entry-point group"
        )
    try:
        constructor = importlib.metadata.EntryPoint(name, target, ENTRY_POINT_GROUP).load()
    except (ImportError, AttributeError) as exc:
        raise ArchitectureError(f"architecture {name!r} ({target}) could not be imported: {exc}") from exc
    return constructor()
