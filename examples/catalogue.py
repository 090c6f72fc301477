"""The example models fairkg builds for its demo registry, in registration order."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from fairkg.examples import braggnn, digits, incomplete, interaction_network
from fairkg.examples._common import Progress

__all__ = ["EXAMPLES", "BuildExample", "build_all"]


class BuildExample(Protocol):
    """Builds one example into ``out_dir``; returns its card folders, datasets first."""

    def __call__(self, out_dir: Path, *, progress: Progress | None = None) -> list[Path]: ...


#: example name -> its build function, in registration order
EXAMPLES: dict[str, BuildExample] = {
    "digits": digits.build,
    "braggnn": braggnn.build,
    "interaction-network": interaction_network.build,
    "incomplete": incomplete.build,
}


def build_all(out_dir: Path, progress: Progress | None = None) -> list[Path]:
    """Build every example into ``out_dir``; returns all card folders in registration order (datasets first).

    ``progress(stage, done, total)`` is called as each example's data, epochs and exports are done.
    """
    folders: list[Path] = []
    for build in EXAMPLES.values():
        folders.extend(build(out_dir, progress=progress))
    return folders
