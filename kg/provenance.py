"""Capture training provenance while a model trains, so nobody types it by hand (the dtoolAI idea).

A :class:`TrainingRecorder` wraps the training loop. It reads the hyperparameters from the optimizer and loss
objects themselves, checksums the training data, stamps start and end times, and detects the software, the
hardware and the training code's git commit; the loop only logs its per-epoch metrics. The result is a
:class:`fairkg.kg.cards.TrainingRun`, the ``training:`` section of a model card::

    rec = TrainingRecorder(code=describe_code(train))
    rec.use_dataset("10.5072/fairkg.digits-data", path=Path("digits.h5"))
    rec.preprocessing("scaled pixel values from 0..16 to 0..1")
    with rec.run(optimizer=opt, loss_fn=loss_fn, epochs=10, batch_size=64, seed=0) as run:
        for epoch in range(10):
            ...
            run.log_epoch(epoch, loss=0.31, val_accuracy=0.95)
    training = rec.result()

torch objects are duck-typed: this module never imports torch.

Hyperparameter values are ``str``, ``int``, ``float`` or ``bool``. Settings read from the optimizer are made so:
one-element tensors and numpy scalars become numbers, sequences (Adam's ``betas``) comma-joined strings, ``None``
(meaning "let the library choose") is left out. Values given in ``extra`` are the user's own, so anything but a
scalar or a sequence of scalars there is refused rather than silently turned into a repr.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import logging
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fairkg.kg.cards import Code, EpochMetric, Hardware, Package, TrainingRun
from fairkg.kg.environment import DEFAULT_PACKAGES, detect_hardware, detect_software, python_version
from fairkg.kg.errors import ProvenanceError
from fairkg.kg.identifiers import parse_identifier

__all__ = ["ProvenanceError", "RunLog", "TrainingRecorder", "describe_code", "file_sha256", "git_commit"]

log = logging.getLogger(__name__)

Scalar = str | int | float | bool
_GIT_TIMEOUT_S = 5.0


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as lower-case hex, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_commit(folder: Path) -> str | None:
    """The commit checked out in the git work tree holding ``folder``; None outside one or without git.

    >>> git_commit(Path("/")) is None
    True
    """
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit or None


def _fairkg_version() -> str:
    try:
        return importlib.metadata.version("fairkg")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def describe_code(
    function: Callable[..., Any],
    *,
    name: str | None = None,
    version: str | None = None,
    repository: str | None = None,
) -> Code:
    """The training code: the module defining ``function``, fairkg's version, and the git commit of its folder.

    >>> import json
    >>> code = describe_code(json.dumps, version="1.0")
    >>> code.name, code.version
    ('json', '1.0')
    """
    try:
        source = inspect.getsourcefile(function)
    except TypeError:  # a builtin: no source file
        source = None
    return Code(
        name=name or function.__module__,
        version=version or _fairkg_version(),
        repository=repository,
        commit=git_commit(Path(source).resolve().parent) if source else None,
    )


def _scalar(value: Any) -> Scalar | None:
    """``value`` as a hyperparameter value; None when it is None; raises TypeError when it is none of those."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar or 0-d tensor (a tensor lr)
        item = value.item()
        if isinstance(item, str | bool | int | float):
            return item
    if isinstance(value, list | tuple) and all(isinstance(v, str | bool | int | float) for v in value):
        return ",".join(str(v) for v in value)
    raise TypeError(f"{type(value).__name__} is not a scalar")


def _optimizer_settings(optimizer: object) -> dict[str, Scalar]:
    groups = getattr(optimizer, "param_groups", None) or [{}]
    settings = {**getattr(optimizer, "defaults", {}), **groups[0]}
    found: dict[str, Scalar] = {"optimizer": type(optimizer).__name__}
    if len(groups) > 1:
        found["optimizer.param_groups"] = len(groups)
    for key, value in sorted(settings.items()):
        if key == "params":
            continue
        try:
            scalar = _scalar(value)
        except TypeError:
            scalar = str(value)
        if scalar is not None:
            found[f"optimizer.{key}"] = scalar
    return found


def _loss_settings(loss_fn: object) -> dict[str, Scalar]:
    name = getattr(loss_fn, "__name__", "") if inspect.isroutine(loss_fn) else type(loss_fn).__name__
    found: dict[str, Scalar] = {"loss": name}
    reduction = getattr(loss_fn, "reduction", None)
    if isinstance(reduction, str):
        found["loss.reduction"] = reduction
    return found


def _extra_settings(extra: Mapping[str, Any]) -> dict[str, Scalar]:
    found: dict[str, Scalar] = {}
    for key, value in extra.items():
        try:
            scalar = _scalar(value)
        except TypeError as exc:
            raise ProvenanceError(
                f"hyperparameter {key!r}: {exc}; give a str, int, float, bool or a list of them"
            ) from exc
        if scalar is not None:
            found[str(key)] = scalar
    return found


@dataclass
class RunLog:
    """The live record of one training run; the training loop calls :meth:`log_epoch`."""

    hyperparameters: dict[str, Scalar]
    started: datetime
    software: list[Package]
    epoch_metrics: list[EpochMetric] = field(default_factory=list)
    ended: datetime | None = None

    def log_epoch(self, epoch: int, **metrics: float) -> None:
        """Record the metrics of one epoch (e.g. ``loss=0.31, val_accuracy=0.95``), in the order given."""
        if self.ended is not None:
            raise ProvenanceError("this run has ended: log epochs inside the `with recorder.run(...)` block")
        for name, value in metrics.items():
            self.epoch_metrics.append(EpochMetric(epoch=epoch, name=name, value=float(value)))


class TrainingRecorder:
    """Records one training run: data, preprocessing, hyperparameters, metrics, times, software, hardware, code.

    Args:
        code: the training code; see :func:`describe_code`.
        packages: distributions whose versions to record.
        hardware: the machine, when already known; detected at the start of the run otherwise.

    >>> rec = TrainingRecorder(code=Code(name="demo.train", version="1.0"))
    >>> rec.use_dataset("10.5072/fairkg.demo-data", sha256="0" * 64)
    >>> with rec.run(epochs=1, batch_size=8, seed=0) as run:
    ...     run.log_epoch(0, loss=0.5)
    >>> training = rec.result()
    >>> training.hyperparameters, [m.value for m in training.epoch_metrics]
    ({'epochs': 1, 'batch_size': 8, 'seed': 0}, [0.5])
    """

    def __init__(
        self, *, code: Code, packages: Iterable[str] = DEFAULT_PACKAGES, hardware: Hardware | None = None
    ) -> None:
        self._code = code
        self._packages = tuple(packages)
        self._hardware = hardware
        self._datasets: list[str] = []
        self._checksums: dict[str, str] = {}
        self._preprocessing: list[str] = []
        self._run: RunLog | None = None

    def use_dataset(self, identifier: str, *, sha256: str | None = None, path: Path | None = None) -> None:
        """Record a registered training dataset by its identifier, with the SHA-256 given or computed from ``path``.

        Raises:
            IdentifierError: ``identifier`` is not an identifier.
        """
        value = parse_identifier(identifier).value
        if value not in self._datasets:
            self._datasets.append(value)
        checksum = sha256 if sha256 is not None else file_sha256(path) if path is not None else None
        if checksum is not None:
            self._checksums[value] = checksum.lower()

    def preprocessing(self, step: str) -> None:
        """Record one preprocessing step, in words, in the order applied."""
        self._preprocessing.append(step)

    @contextmanager
    def run(
        self,
        *,
        epochs: int,
        batch_size: int,
        seed: int | None = None,
        optimizer: object | None = None,
        loss_fn: object | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Iterator[RunLog]:
        """Time the training loop inside the ``with`` block and read the hyperparameters from its objects.

        The optimizer's settings are read when the block starts (before a scheduler changes the learning rate).
        A block that raises leaves no finished run.

        Raises:
            ProvenanceError: a run was already recorded, or an ``extra`` value is not a scalar.
        """
        if self._run is not None:
            raise ProvenanceError("this recorder already holds a run: use one TrainingRecorder per training run")
        hyperparameters: dict[str, Scalar] = {}
        if optimizer is not None:
            hyperparameters.update(_optimizer_settings(optimizer))
        if loss_fn is not None:
            hyperparameters.update(_loss_settings(loss_fn))
        hyperparameters.update({"epochs": epochs, "batch_size": batch_size})
        if seed is not None:
            hyperparameters["seed"] = seed
        hyperparameters.update(_extra_settings(extra or {}))
        if self._hardware is None:
            self._hardware = detect_hardware()
        live = RunLog(
            hyperparameters=hyperparameters, started=datetime.now(UTC), software=detect_software(self._packages)
        )
        yield live
        live.ended = datetime.now(UTC)
        self._run = live

    def result(self) -> TrainingRun:
        """The captured training run, ready for a model card's ``training:``.

        Raises:
            ProvenanceError: no training dataset was recorded, or no run has finished.
        """
        if self._run is None or self._run.ended is None or self._hardware is None:
            raise ProvenanceError(
                "no finished training run: call result() after the `with recorder.run(...)` block has ended"
            )
        if not self._datasets:
            raise ProvenanceError("no training dataset recorded: call recorder.use_dataset(identifier, ...) first")
        return TrainingRun(
            started=self._run.started,
            ended=self._run.ended,
            datasets=list(self._datasets),
            dataset_checksums=dict(self._checksums),
            hyperparameters=dict(self._run.hyperparameters),
            preprocessing=list(self._preprocessing),
            epoch_metrics=list(self._run.epoch_metrics),
            code=self._code,
            software=list(self._run.software),
            python_version=python_version(),
            hardware=self._hardware,
        )
