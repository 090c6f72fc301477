"""fairkg's example FAIR models: data, architecture, training with captured provenance, exports and cards.

``build_all(out_dir)`` writes every example's card folders (``fairkg.examples.catalogue``);
``fairkg.examples.architectures.ARCHITECTURES`` rebuilds the models from safetensors weights. The names below are
imported on first use, so importing one submodule (say, the architectures) does not load the others.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["ARCHITECTURES", "EXAMPLES", "build_all"]

_LAZY = {
    "ARCHITECTURES": "fairkg.examples.architectures",
    "EXAMPLES": "fairkg.examples.catalogue",
    "build_all": "fairkg.examples.catalogue",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
