"""fairkg.runners: from a model record to predictions, on the fastest runtime and device available here.

>>> from fairkg.runners import load_model, ModelCache                                   # doctest: +SKIP
>>> model = load_model(store, home=home, base_iri=base, model_iri=iri, cache=ModelCache())  # doctest: +SKIP
>>> model.runtime, model.device, [s.name for s in model.input_specs]                  # doctest: +SKIP
('onnxruntime', 'cpu', ['image'])
>>> model.predict({"image": batch})["logits"].shape                                    # doctest: +SKIP
(32, 10)

Runtimes are found through the ``fairkg.runners`` entry-point group (built-ins: torch, onnxruntime, tensorrt);
architectures for safetensors weights through ``fairkg.architectures``. Every artifact's SHA-256 is checked against
the graph immediately before it is loaded; inputs are checked against the tensor specs before a runtime sees them.
Importing this package imports no runtime: torch, onnxruntime and tensorrt are imported when first used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fairkg.kg.distributions import DistributionRecord, TensorSpecRecord, inference_record
from fairkg.kg.store.base import Store
from fairkg.runners.base import LoadedModel, ModelSpec, Runner
from fairkg.runners.cache import DEFAULT_CACHE_SIZE, ModelCache
from fairkg.runners.consistency import ConsistencyReport, check_model
from fairkg.runners.dispatch import Option, Selection, load_selection, select
from fairkg.runners.errors import (
    ArchitectureError,
    ChecksumError,
    DispatchError,
    ForeignPlanError,
    InputError,
    ModelLoadError,
    PredictionError,
    RunnerError,
    RuntimeUnavailableError,
    UnsafeArtifactError,
    WithdrawnModelError,
)
from fairkg.runners.hardware import RuntimeInfo, available_runtimes, describe_machine

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "ArchitectureError",
    "ChecksumError",
    "ConsistencyReport",
    "DispatchError",
    "DistributionRecord",
    "ForeignPlanError",
    "InputError",
    "LoadedModel",
    "ModelCache",
    "ModelLoadError",
    "ModelSpec",
    "Option",
    "PredictionError",
    "Runner",
    "RunnerError",
    "RuntimeInfo",
    "RuntimeUnavailableError",
    "Selection",
    "TensorSpecRecord",
    "UnsafeArtifactError",
    "WithdrawnModelError",
    "available_runtimes",
    "check_model",
    "describe_machine",
    "load_model",
    "model_spec",
    "select",
]


def load_model(store: Store, *, home: Path, base_iri: str, model_iri: str, runtime: str | None = None,
               device: str | None = None, format: str | None = None, cache: ModelCache | None = None,
               runners: Mapping[str, Runner] | None = None) -> LoadedModel:
    """Load ``model_iri`` on the requested (or else the fastest available) runtime and device.

    Args:
        runtime: ``"torch"``, ``"onnxruntime"`` or ``"tensorrt"``; None: the fastest available.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; None: the fastest available.
        format: insist on one distribution format (``"safetensors"``, ``"torch-export"``, ``"onnx"``, ``"tensorrt"``).
        cache: reuse a model already loaded there (and keep this one); None: the caller owns the model and
            calls ``release()``.
        runners: runtime name -> runner (default: every registered runner).

    Returns:
        The loaded model: ``predict(inputs) -> outputs``, ``release()``, and ``runtime``, ``device``,
        ``distribution_iri``, ``input_specs``, ``output_specs``.

    Raises:
        NotFoundError: no registered model has that IRI (from fairkg.kg).
        WithdrawnModelError: the model was withdrawn.
        DispatchError: the request cannot be met here (RuntimeUnavailableError, ForeignPlanError); ``available``
            lists what can run.
        ChecksumError: the artifact is missing or does not match its SHA-256: nothing was loaded.
        ModelLoadError: the runtime could not load it (ArchitectureError for safetensors weights).
        UnsafeArtifactError: a torch.export archive that would need unpickling.
    """
    selection = select(store, home=home, base_iri=base_iri, model_iri=model_iri, runtime=runtime, device=device,
                       format=format, runners=runners)

    def load() -> LoadedModel:
        return load_selection(store, selection, home=home, base_iri=base_iri, runners=runners)

    if cache is None:
        return load()
    dist = selection.distribution
    key = (selection.model_iri, dist.iri, dist.sha256, selection.runtime, selection.device, selection.build)
    return cache.get_or_load(key, load)


def model_spec(store: Store, *, model_iri: str) -> ModelSpec:
    """The tensor specs of ``model_iri`` as the graph declares them, without loading anything.

    Raises:
        NotFoundError: no registered model has that IRI.
    """
    return ModelSpec.from_record(inference_record(store, model_iri))
