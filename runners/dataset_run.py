"""Run a registered model over a split of a registered HDF5 dataset, write the predictions as an HDMF-AI
``ResultsTable`` and record the run in the graph (:mod:`fairkg.kg.inference_runs`).

1. The model is loaded through :func:`fairkg.runners.load_model` (its artifact's SHA-256 checked first).
2. The dataset's data file (a ``fkg:DataFile`` holding the split) is checked against its SHA-256 before it is opened.
3. Arrays are read from ``/<split>/<array>`` (the layout of fairkg's examples). Each model input takes the array the
   caller maps to it (``inputs={"image": "images"}``); by default, the array named like the input, else the one
   array of the split whose trailing shape fits the input's spec. The labels are the array the caller names, else the
   one array left over with one row per sample. Arrays of another float (or int) width are converted to the spec's
   dtype; any other mismatch is refused.
4. Batches go through the model with a progress callback ``progress(done, total)``.
5. The results file is written with **hdmf-ai** (``hdmf_ai.ResultsTable``, read back by ``hdmf.common.get_hdf5io``):
   one column per model output under the output's name, plus, when they apply, ``true_label`` (the labels),
   ``predicted_probability`` and ``predicted_class`` (classifiers: softmax of logits, argmax) and
   ``predicted_value`` (regressors). The table's ``pre_trained_model`` names the model IRI, ``parameters`` holds the
   run's settings as JSON, and the file's root carries ``fairkg_model``, ``fairkg_dataset``, ``fairkg_run`` and
   ``fairkg_distribution`` attributes (IRIs). The file goes into the content-addressed artifact store.
6. Metrics when labels exist: ``accuracy`` for classifiers (and ``roc_auc`` for two classes), ``mse`` and
   ``mean_euclidean_distance`` for regressors with several outputs per sample (``mean_euclidean_distance_px`` when
   the output is in pixels, as BraggNN's centre).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fairkg.kg.artifacts import store_artifact, verified_path
from fairkg.kg.distributions import TensorSpecRecord
from fairkg.kg.environment import detect_software, python_version
from fairkg.kg.errors import ArtifactError
from fairkg.kg.identifiers import resource_iri
from fairkg.kg.inference_runs import (
    RESULTS_FILENAME,
    DataFileRecord,
    InferenceRun,
    Metric,
    dataset_files,
    is_restricted,
    new_run_key,
    record_inference_run,
    results_key,
)
from fairkg.kg.records import download_url
from fairkg.kg.store.base import Store
from fairkg.runners import load_model
from fairkg.runners.base import LoadedModel
from fairkg.runners.cache import ModelCache
from fairkg.runners.errors import ChecksumError, RunnerError
from fairkg.runners.hardware import machine_hardware

__all__ = ["DEFAULT_BATCH_SIZE", "DatasetRunError", "DatasetRunResult", "map_inputs", "run_on_dataset"]

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
#: hdmf-ai's own column names: a model output with one of these names is stored as ``output_<name>``
_RESERVED_COLUMNS = {"id", "samples", "tvt_split", "tvt_split_elements", "cv_split", "true_label",
                     "predicted_probability", "predicted_class", "topk_probabilities", "topk_classes",
                     "predicted_value", "cluster_label", "embedding"}

Progress = Callable[[int, int], None]


class DatasetRunError(RunnerError, ValueError):
    """The dataset cannot feed the model: no data file with the split, no array for an input, or ambiguous arrays."""


@dataclass(frozen=True)
class DatasetRunResult:
    """What a dataset run did: the run's IRI and key, where its results are, and its metrics."""

    iri: str
    key: str
    results_iri: str
    results_url: str
    results_path: Path  # inside the registry home
    sample_count: int
    runtime: str
    device: str
    seconds: float
    throughput: float
    metrics: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # model input -> dataset array
    labels: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"iri": self.iri, "key": self.key, "results": self.results_url, "results_iri": self.results_iri,
                "sample_count": self.sample_count, "runtime": self.runtime, "device": self.device,
                "seconds": round(self.seconds, 4), "throughput": round(self.throughput, 3), "metrics": self.metrics,
                "inputs": self.inputs, "labels": self.labels}


def _fits(spec: TensorSpecRecord, shape: tuple[int, ...]) -> bool:
    if len(shape) != len(spec.shape):
        return False
    return all(not isinstance(want, int) or want == got for want, got in zip(spec.shape[1:], shape[1:], strict=True))


def map_inputs(specs: tuple[TensorSpecRecord, ...], arrays: Mapping[str, tuple[int, ...]],
               given: Mapping[str, str] | None = None) -> dict[str, str]:
    """Which dataset array feeds each model input: ``given`` first, then an array named like the input, then the one
    array whose trailing shape fits the input's spec.

    Raises:
        DatasetRunError: an input has no array, or several fit and none was named.

    >>> spec = TensorSpecRecord("image", "float32", ("batch", 1, 8, 8), 0)
    >>> map_inputs((spec,), {"images": (10, 1, 8, 8), "labels": (10,)})
    {'image': 'images'}
    """
    given = dict(given or {})
    unknown = [name for name in given if name not in {s.name for s in specs}]
    if unknown:
        raise DatasetRunError(f"the model has no input {', '.join(unknown)} (its inputs: "
                              f"{', '.join(s.name for s in specs)})")
    mapping: dict[str, str] = {}
    for spec in specs:
        if spec.name in given:
            if given[spec.name] not in arrays:
                raise DatasetRunError(f"the split has no array {given[spec.name]!r} for input {spec.name} "
                                      f"(its arrays: {', '.join(arrays)})")
            mapping[spec.name] = given[spec.name]
            continue
        if spec.name in arrays and _fits(spec, arrays[spec.name]):
            mapping[spec.name] = spec.name
            continue
        fitting = [name for name, shape in arrays.items() if _fits(spec, shape) and name not in mapping.values()]
        if len(fitting) != 1:
            shapes = ", ".join(f"{name} {list(shape)}" for name, shape in arrays.items())
            why = "none fits" if not fitting else f"{', '.join(fitting)} all fit"
            raise DatasetRunError(f"cannot tell which array feeds input {spec.name} (shape "
                                  f"{list(spec.shape)}): {why} among {shapes}; name it (--input "
                                  f"{spec.name}=ARRAY, or \"inputs\": {{\"{spec.name}\": \"ARRAY\"}})")
        mapping[spec.name] = fitting[0]
    return mapping


def _labels_name(arrays: Mapping[str, tuple[int, ...]], used: set[str], count: int, given: str | None) -> str | None:
    if given is not None:
        if given not in arrays:
            raise DatasetRunError(f"the split has no array {given!r} to use as labels (its arrays: "
                                  f"{', '.join(arrays)})")
        return given
    rest = [name for name, shape in arrays.items() if name not in used and shape and shape[0] == count]
    return rest[0] if len(rest) == 1 else None


def _data_file(store: Store, dataset_iri: str, split: str) -> DataFileRecord:
    files = dataset_files(store, dataset_iri)
    if not files:
        raise DatasetRunError(f"{dataset_iri} has no data files (fkg:DataFile) to run a model on")
    holding = [f for f in files if split in f.splits]
    hdf5 = [f for f in files if not f.splits and (f.name.endswith((".h5", ".hdf5")) or f.media_type == "application/"
                                                   "x-hdf5")]
    chosen = holding or hdf5
    if not chosen:
        splits = sorted({s for f in files for s in f.splits})
        raise DatasetRunError(f"no data file of {dataset_iri} holds the split {split!r} (splits: {', '.join(splits)})")
    return chosen[0]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _is_classifier(spec: TensorSpecRecord, output: np.ndarray, labels: np.ndarray | None) -> bool:
    semantics = (spec.semantics or "").lower()
    if output.ndim != 2 or output.shape[1] < 2:
        return False
    if "logit" in semantics or "probab" in semantics:
        return True
    return labels is not None and labels.ndim == 1 and labels.dtype.kind in "iub"


def _probabilities(spec: TensorSpecRecord, output: np.ndarray) -> np.ndarray:
    if "probab" in (spec.semantics or "").lower():
        return output.astype(np.float64)
    return _softmax(output.astype(np.float64))


def _metrics(spec: TensorSpecRecord, output: np.ndarray, labels: np.ndarray | None) -> dict[str, float]:
    if labels is None:
        return {}
    if _is_classifier(spec, output, labels) and labels.ndim == 1:
        metrics = {"accuracy": float(np.mean(np.argmax(output, axis=1) == labels))}
        if output.shape[1] == 2 and len(np.unique(labels)) == 2:
            from sklearn.metrics import roc_auc_score

            metrics["roc_auc"] = float(roc_auc_score(labels, _probabilities(spec, output)[:, 1]))
        return metrics
    if labels.shape == output.shape and labels.dtype.kind == "f":
        diff = output.astype(np.float64) - labels.astype(np.float64)
        metrics = {"mse": float(np.mean(diff**2))}
        if output.ndim == 2 and output.shape[1] > 1:
            name = "mean_euclidean_distance_px" if "pixel" in f"{spec.description} {spec.semantics}".lower() \
                else "mean_euclidean_distance"
            metrics[name] = float(np.mean(np.linalg.norm(diff, axis=1)))
        return metrics
    return {}


def _write_results(path: Path, *, model: LoadedModel, outputs: dict[str, np.ndarray], labels: np.ndarray | None,
                   attrs: Mapping[str, str], parameters: Mapping[str, Any]) -> None:
    import h5py
    from hdmf.common import get_hdf5io
    from hdmf_ai import ResultsTable

    count = len(next(iter(outputs.values())))
    table = ResultsTable(name="results", description=f"Predictions of {model.spec.title} ({attrs['fairkg_model']})",
                         n_samples=count, pre_trained_model=[attrs["fairkg_model"]],
                         parameters=[json.dumps(parameters, sort_keys=True)],
                         source_code=["https://w3id.org/fairkg fairkg.runners.dataset_run"],
                         model_description=[model.spec.title])
    if labels is not None:
        table.add_true_label(np.asarray(labels))
    first = model.output_specs[0]
    head = outputs[first.name]
    if _is_classifier(first, head, labels):
        table.add_predicted_probability(_probabilities(first, head))
        table.add_predicted_class(np.argmax(head, axis=1).astype(np.uint64))
    elif head.dtype.kind == "f" and head.ndim <= 2:
        table.add_predicted_value(head.astype(np.float64))
    for spec in model.output_specs:
        name = f"output_{spec.name}" if spec.name in _RESERVED_COLUMNS else spec.name
        description = f"model output {spec.name!r} {list(spec.shape)} {spec.dtype}: {spec.description}".strip(": ")
        table.add_column(name=name, description=description, data=outputs[spec.name])
    with get_hdf5io(str(path), "w") as io:
        io.write(table)
    with h5py.File(path, "a") as handle:
        for key, value in attrs.items():
            handle.attrs[key] = value


def run_on_dataset(store: Store, *, home: Path, base_iri: str, model_iri: str, dataset_iri: str,
                   split: str = "test", runtime: str | None = None, device: str | None = None,
                   batch_size: int = DEFAULT_BATCH_SIZE, inputs: Mapping[str, str] | None = None,
                   labels: str | None = None, progress: Progress | None = None,
                   cache: ModelCache | None = None) -> DatasetRunResult:
    """Run ``model_iri`` over the ``split`` of ``dataset_iri``, store the results and record the run.

    Raises:
        NotFoundError: no such model.
        DispatchError, ChecksumError, ModelLoadError...: as :func:`fairkg.runners.load_model`.
        ChecksumError: the data file does not match its SHA-256 (it is not read).
        DatasetRunError: the dataset cannot feed the model (no split, no fitting array...).
        InputError: an array's dtype or shape does not fit the model's tensor specs.
    """
    import h5py

    if batch_size < 1:
        raise DatasetRunError(f"the batch size must be at least 1, got {batch_size}")
    model = load_model(store, home=home, base_iri=base_iri, model_iri=model_iri, runtime=runtime, device=device,
                       cache=cache)
    try:
        data_file = _data_file(store, dataset_iri, split)
        try:
            data_path = verified_path(home, data_file.location, data_file.sha256)
        except ArtifactError as exc:
            raise ChecksumError(f"the data file {data_file.name} of {dataset_iri} was refused: {exc}") from exc
        started = datetime.now(UTC)
        with h5py.File(data_path, "r") as handle:
            if split not in handle or not isinstance(handle[split], h5py.Group):
                raise DatasetRunError(f"{data_file.name} has no group /{split} (groups: {', '.join(handle)})")
            group = handle[split]
            arrays = {name: tuple(data.shape) for name, data in group.items() if isinstance(data, h5py.Dataset)}
            mapping = map_inputs(model.input_specs, arrays, inputs)
            count = arrays[mapping[model.input_specs[0].name]][0]
            uneven = [name for name in mapping.values() if arrays[name][0] != count]
            if uneven:
                raise DatasetRunError(f"the arrays {', '.join(mapping.values())} have different numbers of rows")
            label_name = _labels_name(arrays, set(mapping.values()), count, labels)
            label_values = group[label_name][()] if label_name else None
            collected: dict[str, list[np.ndarray]] = {spec.name: [] for spec in model.output_specs}
            began = time.perf_counter()
            for start in range(0, count, batch_size):
                stop = min(start + batch_size, count)
                batch = {s.name: _as_dtype(group[mapping[s.name]][start:stop], s) for s in model.input_specs}
                for name, value in model.predict(batch).items():
                    collected[name].append(value)
                if progress is not None:
                    progress(stop, count)
            predicting = time.perf_counter() - began
        outputs = {name: np.concatenate(parts) if parts else np.empty((0,)) for name, parts in collected.items()}
        metrics = _metrics(model.output_specs[0], outputs[model.output_specs[0].name], label_values)
        key = new_run_key()
        run_iri = str(resource_iri(base_iri, key))
        parameters = {"run": run_iri, "model": model_iri, "dataset": dataset_iri, "distribution":
                      model.distribution_iri, "split": split, "runtime": model.runtime, "device": model.device,
                      "batch_size": batch_size, "inputs": mapping, "labels": label_name}
        attrs = {"fairkg_model": model_iri, "fairkg_dataset": dataset_iri, "fairkg_run": run_iri,
                 "fairkg_distribution": model.distribution_iri, "fairkg_split": split}
        fd, scratch = tempfile.mkstemp(prefix="results-", suffix=".h5", dir=home)
        os.close(fd)
        try:
            _write_results(Path(scratch), model=model, outputs=outputs, labels=label_values, attrs=attrs,
                           parameters=parameters)
            stored = store_artifact(home, Path(scratch))
        finally:
            Path(scratch).unlink(missing_ok=True)
        ended = datetime.now(UTC)
        run = InferenceRun(
            key=key, model=model_iri, distribution=model.distribution_iri, dataset=dataset_iri,
            data_file=data_file.iri, split=split, runtime=model.runtime, device=model.device, started=started,
            ended=ended, sample_count=int(count), batch_size=batch_size, results=stored, hardware=machine_hardware(),
            inference_seconds=predicting,
            python_version=python_version(), runtime_version=getattr(model, "runtime_version", None),
            software=detect_software(), metrics=[Metric(n, v) for n, v in metrics.items()],
            restricted=is_restricted(store, model_iri) or is_restricted(store, dataset_iri), title=model.spec.title)
        record_inference_run(store, run, base_iri=base_iri)
    finally:
        if cache is None:
            model.release()
    result_key = results_key(key)
    log.info("ran %s over %s/%s: %d samples, %s", model_iri, dataset_iri, split, count, metrics)
    return DatasetRunResult(
        iri=run_iri, key=key, results_iri=str(resource_iri(base_iri, result_key)),
        results_url=str(download_url(base_iri, result_key, RESULTS_FILENAME)), results_path=home / stored.location,
        sample_count=int(count), runtime=model.runtime, device=model.device, seconds=run.seconds,
        throughput=run.throughput, metrics=metrics, inputs=mapping, labels=label_name)


def _as_dtype(array: np.ndarray, spec: TensorSpecRecord) -> np.ndarray:
    """``array`` in the spec's dtype when only the width differs (float64 data for a float32 input); otherwise as is,
    so that the model's input check reports the mismatch."""
    want = np.dtype(spec.dtype) if spec.dtype != "bfloat16" else None
    if want is None or array.dtype == want or array.dtype.kind != want.kind:
        return array
    return array.astype(want)
