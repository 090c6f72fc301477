"""Small, valid cards and files for tests that do not need trained models (registration only hashes files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HARDWARE = {"hostname_hash": "0" * 64, "cpu_model": "Test CPU", "cpu_cores": 2, "memory_bytes": 8 << 30,
            "architecture": "x86_64", "operating_system": "Linux", "gpus": []}


def dataset_card(**overrides: Any) -> dict[str, Any]:
    card = {
        "kind": "dataset", "doi": "10.5072/test.data", "title": "Test data", "description": "Numbers for testing.",
        "creators": [{"name": "Josiah Carberry", "orcid": "0000-0002-1825-0097"}], "publisher": "tests",
        "publication_year": 2026, "license": "CC-BY-4.0", "keywords": ["test"],
        "files": [{"path": "data.h5", "splits": ["train", "test"]}],
    }
    card.update(overrides)
    return card


def model_card(**overrides: Any) -> dict[str, Any]:
    card = {
        "kind": "model", "doi": "10.5072/test.model", "title": "Test model",
        "description": "A model for testing registration.",
        "creators": [{"name": "Josiah Carberry", "orcid": "https://orcid.org/0000-0002-1825-0097"}],
        "publisher": "tests", "publication_year": 2026, "license": "MIT", "keywords": ["test", "cnn"],
        "task": "classification", "framework": "PyTorch 2.13",
        "inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 4], "description": "four features"}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", 2], "description": "class scores",
                     "semantics": "logits"}],
        "distributions": [{"path": "model.onnx", "format": "onnx", "runtime_version": "onnx opset 18"},
                          {"path": "model.pt2", "format": "torch-export", "runtime_version": "torch 2.13.0"}],
        "reference": {"path": "reference.safetensors", "tolerance": 1e-4},
        "training": {
            "started": "2026-11-01T10:00:00+00:00", "ended": "2026-11-01T10:05:00+00:00",
            "datasets": ["doi:10.5072/test.data"], "dataset_checksums": {"10.5072/test.data": "ab" * 32},
            "hyperparameters": {"optimizer": "SGD", "lr": 0.1, "epochs": 3, "batch_size": 16, "seed": 0,
                                "nesterov": False},
            "preprocessing": ["scaled to 0..1"],
            "epoch_metrics": [{"epoch": 0, "name": "loss", "value": 0.9}, {"epoch": 1, "name": "loss", "value": 0.5}],
            "code": {"name": "tests.train", "version": "0.1.0"},
            "software": [{"name": "torch", "version": "2.13.0"}, {"name": "numpy", "version": "2.0.0"}],
            "python_version": "3.11.7", "hardware": HARDWARE,
        },
        "evaluations": [{"metric": "accuracy", "value": 0.9, "dataset": "10.5072/test.data", "split": "test"}],
    }
    card.update(overrides)
    return card


def write_card(folder: Path, card: dict[str, Any], files: dict[str, bytes] | None = None) -> Path:
    """Write ``card`` as ``folder/card.yaml`` plus its files (default: small distinct bytes for each path)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "card.yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    if files is None:
        paths = [f["path"] for f in card.get("files", [])] + [d["path"] for d in card.get("distributions", [])]
        if card.get("reference"):
            paths.append(card["reference"]["path"])
        files = {p: f"content of {p} in {card.get('doi')}".encode() for p in paths}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder
