"""TensorRT (>= 10): engines built from the model's ONNX for the GPU at hand, cached as plans in the graph.

UNTESTED until it runs on a CUDA GPU with TensorRT installed (``pip install 'fairkg[tensorrt]'``): no machine
fairkg is developed on has one. What is tested without TensorRT is everything around it: recognising plans and
refusing foreign ones (:mod:`fairkg.runners.plans`), and dispatch choosing, building and caching.

A plan is deserialized only where its recorded GPU and TensorRT version match this machine's and its header agrees
(:func:`fairkg.runners.plans.check_plan`). Otherwise dispatch asks :meth:`TensorRTRunner.build` for a new one from
the ONNX distribution (checksum-verified like any load) and adds it to the model's record as a ``fkg:TensorRTPlan``
with ``fkg:builtForGpu`` and ``fkg:runtimeVersion``, so the next load finds it. Device memory is allocated through
torch (a dependency anyway), so neither pycuda nor cuda-python is needed.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from fairkg.kg.distributions import DistributionRecord
from fairkg.runners.base import BuiltArtifact, LoadedModel, ModelSpec, device_kind
from fairkg.runners.errors import ModelLoadError, PredictionError, RuntimeUnavailableError
from fairkg.runners.plans import check_plan, plan_refusal, this_machine

__all__ = ["MAX_BATCH", "OPT_BATCH", "TensorRTEngine", "TensorRTRunner"]

#: optimisation profile for named (free) dimensions: larger batches are run in chunks of MAX_BATCH
OPT_BATCH = 64
MAX_BATCH = 4096
_TORCH_DTYPES = {"FLOAT": "float32", "HALF": "float16", "BF16": "bfloat16", "INT8": "int8", "UINT8": "uint8",
                 "INT32": "int32", "INT64": "int64", "BOOL": "bool"}


def _tensorrt() -> Any:
    try:
        import tensorrt
    except ImportError as exc:
        raise RuntimeUnavailableError("TensorRT is not installed: pip install 'fairkg[tensorrt]' (TensorRT >= 10, "
                                      "on a machine with a CUDA GPU)") from exc
    return tensorrt


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


class TensorRTEngine(LoadedModel):
    """A deserialized engine and one execution context on one GPU (calls are serialised: a context runs one batch
    at a time)."""

    def __init__(self, engine: Any, *, device: str, distribution: DistributionRecord, spec: ModelSpec,
                 version: str | None) -> None:
        super().__init__(runtime=TensorRTRunner.name, device=device, distribution=distribution, spec=spec,
                         runtime_version=version)
        trt = _tensorrt()
        self._engine = engine
        self._context = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        spec_in, spec_out = [s.name for s in spec.inputs], [s.name for s in spec.outputs]
        # engines keep the ONNX tensor names; a card naming them differently is matched by position
        self._inputs = dict(zip(spec_in, spec_in if set(spec_in) == set(inputs) else inputs, strict=False))
        self._outputs = dict(zip(spec_out, spec_out if set(spec_out) == set(outputs) else outputs, strict=False))
        self._run_lock = threading.Lock()

    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = next(iter(inputs.values())).shape[0] if inputs else 0
        first_dims_free = all(isinstance(s.shape[0], str) for s in self.spec.inputs)
        if first_dims_free and batch > MAX_BATCH:
            parts = [self._run_chunk({k: v[i:i + MAX_BATCH] for k, v in inputs.items()})
                     for i in range(0, batch, MAX_BATCH)]
            return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        return self._run_chunk(inputs)

    def _run_chunk(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        with self._run_lock, torch.cuda.device(self.device):
            stream = torch.cuda.Stream(self.device)
            keep = []
            for name, array in inputs.items():
                tensor = torch.from_numpy(array).to(self.device)
                keep.append(tensor)
                self._context.set_input_shape(self._inputs[name], tuple(array.shape))
                self._context.set_tensor_address(self._inputs[name], tensor.data_ptr())
            results: dict[str, torch.Tensor] = {}
            for name, engine_name in self._outputs.items():
                shape = tuple(self._context.get_tensor_shape(engine_name))
                dtype = getattr(torch, _TORCH_DTYPES[self._engine.get_tensor_dtype(engine_name).name])
                results[name] = torch.empty(shape, dtype=dtype, device=self.device)
                self._context.set_tensor_address(engine_name, results[name].data_ptr())
            if not self._context.execute_async_v3(stream.cuda_stream):
                raise PredictionError(f"TensorRT failed to run {self.distribution.name} (see TensorRT's log)")
            stream.synchronize()
            return {name: tensor.cpu().numpy() for name, tensor in results.items()}

    def _release(self) -> None:
        self._context = None
        self._engine = None
        import torch

        torch.cuda.empty_cache()


class TensorRTRunner:
    """Runs TensorRT plans built for this GPU, and builds them from ONNX models."""

    name = "tensorrt"
    formats = ("tensorrt",)
    builds_from = ("onnx",)

    def version(self) -> str | None:
        installed = this_machine().tensorrt_version
        return f"TensorRT {installed}" if installed else None

    def available_devices(self) -> list[str]:
        if importlib.util.find_spec("tensorrt") is None:
            return []
        return [f"cuda:{i}" for i in range(len(this_machine().gpus))]

    def unsupported(self, distribution: DistributionRecord, device: str) -> str | None:
        if distribution.format == "onnx":
            if device not in self.available_devices():
                return f"TensorRT cannot build an engine for {device} here ({this_machine().describe()})"
            return None
        if distribution.format not in self.formats:
            return f"TensorRT loads plans, not {distribution.format}"
        if device_kind(device) != "cuda":
            return "TensorRT runs on CUDA GPUs only"
        return plan_refusal(distribution, this_machine(), device=device)

    def load(self, distribution: DistributionRecord, device: str, *, artifact: Path,
             spec: ModelSpec) -> TensorRTEngine:
        check_plan(artifact, distribution, this_machine(), device=device)  # the file too, not only the record
        trt = _tensorrt()
        import torch

        logger = trt.Logger(trt.Logger.WARNING)
        with torch.cuda.device(device):
            runtime = trt.Runtime(logger)
            engine = runtime.deserialize_cuda_engine(artifact.read_bytes())
        if engine is None:
            raise ModelLoadError(f"TensorRT could not deserialize {distribution.name} (see TensorRT's log)")
        return TensorRTEngine(engine, device=device, distribution=distribution, spec=spec, version=self.version())

    def build(self, source: DistributionRecord, device: str, *, artifact: Path, spec: ModelSpec,
              out_dir: Path) -> BuiltArtifact:
        """Build an engine from the ONNX distribution ``source`` (its verified file is ``artifact``) for the GPU
        ``device`` and write it as a plan."""
        trt = _tensorrt()
        import torch

        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(str(artifact)):
            errors = "; ".join(str(parser.get_error(i).desc()) for i in range(parser.num_errors))
            raise ModelLoadError(f"TensorRT could not parse {source.name}: {errors}")
        config = builder.create_builder_config()
        profile = builder.create_optimization_profile()
        for index in range(network.num_inputs):
            tensor = network.get_input(index)
            dims = list(tensor.shape)
            low = [1 if d < 0 else d for d in dims]
            opt = [OPT_BATCH if d < 0 else d for d in dims]
            high = [MAX_BATCH if d < 0 else d for d in dims]
            profile.set_shape(tensor.name, low, opt, high)
        config.add_optimization_profile(profile)
        with torch.cuda.device(device):
            serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ModelLoadError(f"TensorRT could not build an engine from {source.name} (see TensorRT's log)")
        gpu = this_machine().gpus[int(device.partition(":")[2] or 0)]
        version = this_machine().tensorrt_version or trt.__version__
        name = f"{Path(source.name).stem}.{_slug(gpu.name)}.trt{version}.plan"
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / name
        path.write_bytes(bytes(serialized))
        return BuiltArtifact(path=path, format="tensorrt", name=name, runtime_version=f"TensorRT {version}",
                             built_for=gpu.name)
