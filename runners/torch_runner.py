"""PyTorch: torch.export programs, and safetensors weights loaded into a registered architecture; CPU and CUDA.

**Pickle.** safetensors is a flat tensor format (a JSON header and raw bytes): loading it runs no code. A
torch.export archive (``.pt2``) keeps plain tensors as raw bytes too, but ``torch.export.load`` does unpickle some
payloads, with ``weights_only=False``: tensor subclasses and script objects among the weights and constants,
"opaque" constants (``pickle.loads``), the legacy single-file formats, and the sample inputs when a
``weights_only=True`` load of them fails. So before ``torch.export.load`` sees a file, :func:`check_pickle_free`
reads the archive as a zip (nothing unpickled) and refuses it unless every weight and constant is a raw tensor and
the sample inputs load with ``weights_only=True``; and dispatch only ever hands this runner a file whose SHA-256
matches what a publisher registered. A program is also tied to the torch version that made it: one recorded
under another major.minor version is left to the safetensors weights.

State dicts in pickle files (``.pth``) are never loaded here; :func:`fairkg.runners.importer
.convert_state_dict_to_safetensors` converts them with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import importlib.util
import io
import json
import pickle  # only for its exception class: nothing here unpickles
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fairkg.kg.distributions import DistributionRecord
from fairkg.kg.environment import detect_gpus
from fairkg.runners import architectures
from fairkg.runners.base import LoadedModel, ModelSpec, device_kind
from fairkg.runners.errors import ArchitectureError, ModelLoadError, PredictionError, UnsafeArtifactError

if TYPE_CHECKING:
    import torch

__all__ = ["TorchModule", "TorchRunner", "check_pickle_free"]

_TORCH_VERSION = re.compile(r"torch\s+(\d+)\.(\d+)")


def _fail(path: Path, why: str) -> UnsafeArtifactError:
    return UnsafeArtifactError(f"{path.name} is refused: {why}; torch.export.load would unpickle it, and fairkg "
                               "never unpickles model files. Export it again with torch.export.save from plain "
                               "tensors, or publish safetensors weights with a registered architecture")


def check_pickle_free(path: Path) -> None:
    """Check that ``torch.export.load`` can load the archive at ``path`` without unpickling arbitrary objects.

    Raises:
        UnsafeArtifactError: not a PT2 archive, a legacy pickled format, a pickled weight or constant, a script or
            opaque object, or sample inputs that need a full unpickler.
    """
    import torch

    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise _fail(path, "it is not a PT2 (zip) archive") from exc
    with archive:
        names = archive.namelist()
        if any("/" not in name for name in names):  # the pre-2.8 layout, loaded through pickle
            raise _fail(path, "it is in the legacy torch.export format")
        relative = {name.split("/", 1)[1]: name for name in names}
        if not any(rel.startswith("models/") and rel.endswith(".json") for rel in relative):
            raise _fail(path, "it holds no models/*.json (a legacy format)")
        for rel, name in relative.items():
            folder, _, file = rel.rpartition("/")
            if file.endswith(".pt") and folder != "data/sample_inputs":
                raise _fail(path, f"{rel} is a pickled file")
            if folder in ("data/weights", "data/constants") and file.endswith("_config.json"):
                prefix = "weight_" if folder == "data/weights" else "tensor_"
                config = json.loads(archive.read(name)).get("config", {})
                for fqn, entry in config.items():
                    if entry.get("use_pickle") or not str(entry.get("path_name", "")).startswith(prefix):
                        raise _fail(path, f"{fqn} in {rel} is stored as a pickle or a Python object")
            if folder == "data/sample_inputs":
                try:
                    torch.load(io.BytesIO(archive.read(name)), weights_only=True)
                except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError) as exc:
                    raise _fail(path, f"its sample inputs {rel} do not load with weights_only=True ({exc})") from exc


class TorchModule(LoadedModel):
    """A ``torch.nn.Module`` (rebuilt from weights, or a torch.export program's module) on one device."""

    def __init__(self, module: Any, *, device: str, distribution: DistributionRecord, spec: ModelSpec,
                 version: str | None) -> None:
        super().__init__(runtime=TorchRunner.name, device=device, distribution=distribution, spec=spec,
                         runtime_version=version)
        self._module = module

    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        module = self._module
        try:
            with torch.inference_mode():
                tensors = [torch.from_numpy(array).to(self.device) for array in inputs.values()]
                outputs = module(*tensors)
        except RuntimeError as exc:  # torch reports shape and device errors as RuntimeError
            raise PredictionError(f"torch failed to run {self.distribution.name}: {exc}") from exc
        values = outputs if isinstance(outputs, tuple | list) else (outputs,)
        names = [s.name for s in self.spec.outputs] or [f"output_{i}" for i in range(len(values))]
        return {name: value.detach().cpu().numpy() for name, value in zip(names, values, strict=False)}

    def _release(self) -> None:
        self._module = None
        if device_kind(self.device) == "cuda":
            import torch

            torch.cuda.empty_cache()


class TorchRunner:
    """Runs torch.export programs and safetensors weights (with a registered architecture) on CPU and CUDA."""

    name = "torch"
    formats = ("safetensors", "torch-export")

    def version(self) -> str | None:
        if importlib.util.find_spec("torch") is None:
            return None
        import torch

        return f"torch {torch.__version__.split('+')[0]}"

    def available_devices(self) -> list[str]:
        if importlib.util.find_spec("torch") is None:
            return []
        return [*(f"cuda:{i}" for i in range(len(detect_gpus()))), "cpu"]

    def unsupported(self, distribution: DistributionRecord, device: str) -> str | None:
        if distribution.format not in self.formats:
            return f"torch loads torch.export programs and safetensors weights, not {distribution.format}"
        if device not in self.available_devices():
            return f"torch cannot use {device} here"
        if distribution.format == "safetensors":
            if not distribution.architecture:
                return "the safetensors weights name no architecture (fkg:architecture) to load them into"
            if distribution.architecture not in architectures.registered_architectures():
                return f"the weights' architecture {distribution.architecture!r} is not registered here"
        if distribution.format == "torch-export":
            recorded = _TORCH_VERSION.search(distribution.runtime_version or "")
            installed = _TORCH_VERSION.search(self.version() or "")
            if recorded and installed and recorded.groups() != installed.groups():
                return (f"the program was exported with torch {'.'.join(recorded.groups())} and this machine has "
                        f"torch {'.'.join(installed.groups())}: programs are tied to the torch version")
        return None

    def load(self, distribution: DistributionRecord, device: str, *, artifact: Path, spec: ModelSpec) -> TorchModule:
        if distribution.format == "safetensors":
            module = self._from_weights(distribution, artifact, device)
        else:
            module = self._from_program(distribution, artifact, device)
        return TorchModule(module, device=device, distribution=distribution, spec=spec, version=self.version())

    def _from_weights(self, distribution: DistributionRecord, artifact: Path, device: str) -> torch.nn.Module:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        if not distribution.architecture:
            raise ArchitectureError(f"{distribution.name} names no architecture to load the weights into")
        module = architectures.build_architecture(distribution.architecture)
        try:
            state = load_file(artifact, device="cpu")
        except SafetensorError as exc:
            raise ModelLoadError(f"{distribution.name} is not readable safetensors: {exc}") from exc
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:  # missing, unexpected or mis-shaped parameters
            raise ArchitectureError(
                f"{distribution.name} does not fit the architecture {distribution.architecture!r}: {exc}"
            ) from exc
        return module.eval().to(device)

    def _from_program(self, distribution: DistributionRecord, artifact: Path, device: str) -> torch.nn.Module:
        import torch

        check_pickle_free(artifact)
        try:
            with artifact.open("rb") as handle:  # a buffer: the store's file names do not end in .pt2
                program = torch.export.load(handle)
            if device_kind(device) == "cuda":
                program = torch.export.passes.move_to_device_pass(program, device)
        except (RuntimeError, ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
            raise ModelLoadError(f"torch.export could not load {distribution.name}: {exc}") from exc
        return program.module()
