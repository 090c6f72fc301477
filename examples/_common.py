"""Steps every example build shares: seeding, HDF5 writing, training with captured provenance, export, the reference
example, and card writing. Each example module reads top to bottom and calls these in order."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import onnx
import onnxruntime as ort
import torch
import yaml
from safetensors.torch import load_file, save_file
from torch import nn

from fairkg.kg.cards import Card, Creator, Distribution, Reference, load_card
from fairkg.kg.provenance import TrainingRecorder

#: progress(stage, done, total): e.g. ("digits: training", 3, 10)
Progress = Callable[[str, int, int], None]

#: ORCID's documented example iD, the fictional Josiah Carberry: the demo's models are made by no real person
CREATORS = [Creator(name="Josiah Carberry", orcid="0000-0002-1825-0097")]
PUBLISHER = "fairkg demo registry"
PUBLICATION_YEAR = 2026
#: the DataCite fields every demo card shares
ATTRIBUTION: dict[str, Any] = {"creators": CREATORS, "publisher": PUBLISHER, "publication_year": PUBLICATION_YEAR}
MODEL_LICENSE = "MIT"
FRAMEWORK = f"PyTorch {'.'.join(torch.__version__.split('+')[0].split('.')[:2])}"
ONNX_OPSET = 18
REFERENCE_TOLERANCE = 1e-4
#: torch threads for training and export. One: these small models gain little from a second thread on an idle
#: 2-core machine and lose 2-5x on a busy one (OpenMP threads wait on each other), and results stay the same on
#: every machine
TRAINING_THREADS = 1
_BATCH = torch.export.Dim("batch", min=1, max=1 << 16)

log = logging.getLogger(__name__)


class ExampleBuildError(RuntimeError):
    """An example's export does not reproduce the trained model: the build stops instead of writing a bad card."""


def report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    """Call ``progress`` when one was given."""
    if progress is not None:
        progress(stage, done, total)


@contextmanager
def torch_threads(count: int = TRAINING_THREADS) -> Iterator[None]:
    """Run torch on ``count`` threads inside the block (fixed, so results do not depend on the machine's size)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def write_hdf5(
    path: Path,
    splits: Mapping[str, Mapping[str, np.ndarray]],
    *,
    attrs: Mapping[str, Any],
    descriptions: Mapping[str, str],
) -> Path:
    """Write ``/<split>/<name>`` datasets (gzip, no timestamps, so equal data give equal bytes) with attributes.

    Args:
        splits: split name -> array name -> array.
        attrs: file attributes (source, licence, generator parameters...).
        descriptions: array name -> what it holds (units, normalisation); stored as its ``description`` attribute.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", track_order=True) as handle:
        for key, value in attrs.items():
            handle.attrs[key] = value
        for split, arrays in splits.items():
            group = handle.create_group(split, track_order=True)
            group.attrs["count"] = len(next(iter(arrays.values())))
            for name, array in arrays.items():
                data = group.create_dataset(
                    name, data=array, compression="gzip", compression_opts=4, shuffle=True, track_times=False
                )
                data.attrs["description"] = descriptions[name]
    return path


def read_split(path: Path, split: str) -> dict[str, torch.Tensor]:
    """The arrays of one split of an HDF5 file written by :func:`write_hdf5`, as tensors."""
    with h5py.File(path, "r") as handle:
        return {name: torch.from_numpy(data[()]) for name, data in handle[split].items()}


def parameter_count(model: nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def predict(model: nn.Module, inputs: Sequence[torch.Tensor], *, batch_size: int = 256) -> torch.Tensor:
    """The model's outputs on ``inputs`` (eval mode, no gradients), in batches."""
    model.eval()
    with torch.no_grad():
        count = len(inputs[0])
        parts = [model(*(x[i : i + batch_size] for x in inputs)) for i in range(0, count, batch_size)]
    return torch.cat(parts)


def train(
    model: nn.Module,
    inputs: Sequence[torch.Tensor],
    targets: torch.Tensor,
    *,
    recorder: TrainingRecorder,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    epochs: int,
    batch_size: int,
    seed: int,
    validate: Callable[[nn.Module], dict[str, float]],
    extra: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    stage: str = "training",
) -> None:
    """Train with mini-batches in a seeded order, logging each epoch's mean loss and validation metrics."""
    order = torch.Generator().manual_seed(seed)
    count = len(targets)
    with recorder.run(
        optimizer=optimizer, loss_fn=loss_fn, epochs=epochs, batch_size=batch_size, seed=seed, extra=extra
    ) as run:
        for epoch in range(epochs):
            model.train()
            permutation = torch.randperm(count, generator=order)
            total = 0.0
            for start in range(0, count, batch_size):
                index = permutation[start : start + batch_size]
                optimizer.zero_grad()
                loss = loss_fn(model(*(x[index] for x in inputs)), targets[index])
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(index)
            run.log_epoch(epoch, loss=total / count, **validate(model))
            report(progress, stage, epoch + 1, epochs)


@contextmanager
def _quiet_exporters() -> Iterator[None]:
    # torch.onnx logs a warning per torchvision op it cannot register (torchvision is not installed, and not needed)
    # and torch's pytree emits a FutureWarning from inside the exporter: neither is ours to fix
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*", category=FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def export_onnx(
    model: nn.Module, example: Mapping[str, torch.Tensor], output_names: Sequence[str], path: Path
) -> Distribution:
    """Write an ONNX model with a dynamic batch size (torch.onnx's dynamo exporter) and check it with onnx.checker.

    ``example`` maps the forward arguments' names (the model's input names) to example tensors.
    """
    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _quiet_exporters():
        program = torch.export.export(
            model, tuple(example.values()), dynamic_shapes={name: {0: _BATCH} for name in example}
        )
        _onnx_from_program(program, example, output_names, path)
    return Distribution(path=path.name, format="onnx", runtime_version=f"onnx opset {ONNX_OPSET}")


def _onnx_from_program(
    program: torch.export.ExportedProgram,
    example: Mapping[str, torch.Tensor],
    output_names: Sequence[str],
    path: Path,
) -> None:
    torch.onnx.export(
        program,
        f=path,
        input_names=list(example),
        output_names=list(output_names),
        opset_version=ONNX_OPSET,
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    onnx.checker.check_model(onnx.load(path), full_check=True)


def export_model(
    model: nn.Module,
    example: Mapping[str, torch.Tensor],
    output_names: Sequence[str],
    folder: Path,
    *,
    architecture: str,
) -> list[Distribution]:
    """Write the torch.export program, the ONNX model and the safetensors weights, all with a dynamic batch size.

    ``example`` maps the forward arguments' names (the model's input names) to example tensors.
    """
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    with _quiet_exporters():
        program = torch.export.export(
            model, tuple(example.values()), dynamic_shapes={name: {0: _BATCH} for name in example}
        )
        torch.export.save(program, folder / "model.pt2")
        _onnx_from_program(program, example, output_names, folder / "model.onnx")
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        folder / "model.safetensors",
        metadata={"architecture": architecture},
    )
    (folder / "model.safetensors").chmod(0o644)
    runtime = f"torch {torch.__version__.split('+')[0]}"
    return [
        Distribution(path="model.pt2", format="torch-export", runtime_version=runtime),
        Distribution(path="model.onnx", format="onnx", runtime_version=f"onnx opset {ONNX_OPSET}"),
        Distribution(
            path="model.safetensors", format="safetensors", architecture=architecture, runtime_version=runtime
        ),
    ]


def write_reference(
    model: nn.Module,
    inputs: Mapping[str, torch.Tensor],
    output_name: str,
    folder: Path,
    *,
    tolerance: float = REFERENCE_TOLERANCE,
) -> Reference:
    """Write ``reference.safetensors`` (``input.<name>``, ``output.<name>``) and check the exports reproduce it.

    Raises:
        ExampleBuildError: the ONNX model or the torch.export program deviates by more than ``tolerance``.
    """
    tensors = {f"input.{k}": v.contiguous() for k, v in inputs.items()}
    tensors[f"output.{output_name}"] = predict(model, list(inputs.values())).contiguous()
    path = folder / "reference.safetensors"
    save_file(tensors, path)
    path.chmod(0o644)  # safetensors writes owner-only files; artifacts are meant to be shared
    check_reproduces(folder, load_file(path), tolerance=tolerance)
    return Reference(path=path.name, tolerance=tolerance)


def check_reproduces(folder: Path, reference: Mapping[str, torch.Tensor], *, tolerance: float) -> None:
    """Run ``model.onnx`` (onnxruntime, CPU) and ``model.pt2`` on the reference inputs and compare the outputs."""
    inputs = {k.removeprefix("input."): v for k, v in reference.items() if k.startswith("input.")}
    expected = {k.removeprefix("output."): v.numpy() for k, v in reference.items() if k.startswith("output.")}
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    got = dict(zip(expected, session.run(list(expected), {k: v.numpy() for k, v in inputs.items()}), strict=True))
    program = torch.export.load(folder / "model.pt2").module()
    with torch.no_grad():
        outputs = program(*inputs.values())
    outputs = outputs if isinstance(outputs, tuple | list) else (outputs,)
    got_torch = {name: value.numpy() for name, value in zip(expected, outputs, strict=True)}
    for name, want in expected.items():
        for runtime, value in (("onnxruntime", got[name]), ("torch.export", got_torch[name])):
            deviation = float(np.max(np.abs(value - want)))
            if deviation > tolerance:
                raise ExampleBuildError(
                    f"{folder.name}: {runtime} output {name!r} deviates by {deviation:.3g} > tolerance {tolerance}"
                )


def write_card(folder: Path, card: Card) -> Path:
    """Write ``card.yaml`` in ``folder`` and read it back through the validator; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    fields = card.model_dump(mode="json", exclude_none=True)
    data = {"kind": fields.pop("kind"), **fields}
    (folder / "card.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    load_card(folder)
    return folder
