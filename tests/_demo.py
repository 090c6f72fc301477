"""The example models, built once per test session and registered into fresh stores, for the runner tests.

Building trains three small models (about a minute on two cores), so :func:`built_examples` does it once per
process, in a temporary folder removed at exit; every runner test module calls :func:`demo_registry` from a
module-scoped fixture for a fresh in-memory store and registry home holding all of them.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from fairkg.examples.architectures import DigitsCNN
from fairkg.kg.register import register
from fairkg.kg.store import Store, open_store

BASE_IRI = "http://localhost:8000"
MODELS = ("digits-cnn", "braggnn", "interaction-network")
PEER_MODEL = Path(__file__).resolve().parents[2] / "shared" / "peer-models" / "hbb_interaction_network"


@functools.cache
def built_examples() -> Path:
    """The folder holding every example's card folders, built on first call."""
    from fairkg.examples import build_all

    root = Path(tempfile.mkdtemp(prefix="fairkg-runner-tests-"))
    atexit.register(shutil.rmtree, root, True)
    build_all(root / "examples")
    return root / "examples"


@dataclass
class Demo:
    """A fresh store and home with every example registered: folder name -> model or dataset IRI."""

    store: Store
    home: Path
    base_iri: str
    iris: dict[str, str]

    def model(self, name: str) -> str:
        return self.iris[name]


def demo_registry(home: Path, *, only: tuple[str, ...] | None = None) -> Demo:
    """Register the built examples (all, or the card folders named in ``only``, datasets included) into a fresh
    in-memory store with its home at ``home``."""
    store = open_store("oxigraph:")
    iris: dict[str, str] = {}
    folders = sorted(built_examples().iterdir(), key=_registration_order)
    for folder in folders:
        if only is not None and folder.name not in only:
            continue
        iris[folder.name] = register(store, folder, home=home, base_iri=BASE_IRI).iri
    return Demo(store, home, BASE_IRI, iris)


def _registration_order(folder: Path) -> tuple[int, str]:
    return (0 if folder.name.endswith("-data") else 1, folder.name)


def copy_card(name: str, target: Path) -> Path:
    """A writable copy of the built example's card folder ``name``."""
    shutil.copytree(built_examples() / name, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


class TanhDigitsCNN(DigitsCNN):
    """The digits CNN with tanh where it has ReLU: the same parameters (so the weights load without a key error),
    a different function."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.conv1(image))
        x = self.pool(torch.tanh(self.conv2(x)))
        x = torch.tanh(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


class SmallNet(nn.Module):
    """A tiny network for tests that need a torch.export archive of their own."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(x))
