"""Importing a published model that nobody here made: draft a model card from what its files say, for the user to
complete.

* ``CITATION.cff`` gives title, authors (with ORCIDs and affiliations), DOI, licence, version, release date,
  keywords, abstract and links.
* An ONNX model gives the tensors: names, dtypes, shapes (symbolic dimensions kept as names) and, when the graph
  ends in a Softmax, that an output holds probabilities.
* A TensorRT plan becomes a ``tensorrt`` distribution, with the GPU and TensorRT version the README states and what
  its header says (:mod:`fairkg.runners.plans`); it loads only where those match.
* PyTorch state dicts (``.pth``, pickle) are never registered as loadable weights: they are compared with the ONNX
  weights and the registered architectures, and :func:`convert_state_dict_to_safetensors` converts them with
  ``torch.load(weights_only=True)`` (which refuses pickled code).

What the files do not say is listed in :attr:`Draft.missing`; :func:`write_draft` writes ``card.yaml`` with those
fields as comments, and copies the distribution files beside it.
"""

from __future__ import annotations

import pickle  # only for its exception class: nothing here unpickles
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fairkg.kg.cards import DTYPES
from fairkg.runners.errors import UnsafeArtifactError
from fairkg.runners.plans import read_plan_header

__all__ = ["Draft", "Missing", "convert_state_dict_to_safetensors", "draft", "draft_card", "write_draft"]

_PLAN_SUFFIXES = (".plan", ".engine", ".trt")
_STATE_DICT_SUFFIXES = (".pth", ".pt", ".ckpt")
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s()\[\],;]+[^\s()\[\],;.])")
_GPU = re.compile(r"\bNVIDIA\s+((?:[A-Z][A-Za-z]*\s?)?[A-Z]?\d{2,4}[A-Za-z]*)")
_TRT = re.compile(r"TensorRT\s*(\d+(?:\.\d+)*)")
_YEAR = re.compile(r"\b(?:in|from|of)\s+((?:19|20)\d\d)\b")
_DIM_NAME = re.compile(r"[^A-Za-z0-9_]")
_SEMANTICS = {
    "Softmax": ("probabilities", "softmax probabilities over the last axis (each row sums to 1)"),
    "LogSoftmax": ("log-probabilities", "log-softmax over the last axis"),
    "Sigmoid": ("probabilities", "sigmoid probabilities, one per element"),
}


@dataclass(frozen=True)
class Missing:
    """A card field the published files do not give: ``required`` ones must be added before registering."""

    field: str
    required: bool
    hint: str

    def __str__(self) -> str:
        return f"{self.field} ({'required' if self.required else 'recommended'}): {self.hint}"


@dataclass(frozen=True)
class Draft:
    """A drafted model card (a mapping, as in card.yaml), the files it names, what is missing, and notes on what
    the importer decided."""

    card: dict[str, Any]
    files: dict[str, Path]  # name in the card -> file in the published folder
    missing: tuple[Missing, ...]
    notes: tuple[str, ...]

    @property
    def required_missing(self) -> list[Missing]:
        return [m for m in self.missing if m.required]


def _citation(folder: Path) -> dict[str, Any]:
    path = folder / "CITATION.cff"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _creators(cff: dict[str, Any]) -> list[dict[str, str]]:
    creators = []
    for author in cff.get("authors") or []:
        if not isinstance(author, dict):
            continue
        name = author.get("name") or " ".join(
            str(author[k]) for k in ("given-names", "name-particle", "family-names", "name-suffix") if author.get(k)
        )
        if not name:
            continue
        creator = {"name": name}
        if author.get("orcid"):
            creator["orcid"] = str(author["orcid"])
        if author.get("affiliation"):
            creator["affiliation"] = str(author["affiliation"])
        creators.append(creator)
    return creators


def _license(cff: dict[str, Any], folder: Path) -> str | None:
    value = cff.get("license")
    if isinstance(value, list):
        value = " OR ".join(str(v) for v in value) if len(value) > 1 else (value[0] if value else None)
    if value:
        return str(value)
    licence = folder / "LICENSE"
    if licence.is_file() and licence.read_text(encoding="utf-8", errors="replace").lstrip().startswith("MIT License"):
        return "MIT"
    return None


def _readme(folder: Path) -> str:
    for name in ("README.md", "README.rst", "README.txt", "README"):
        if (folder / name).is_file():
            return (folder / name).read_text(encoding="utf-8", errors="replace")
    return ""


def _lines_naming(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if name in line]


def _onnx_tensors(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any], list[Missing]]:
    """Input and output specs, version details and what is missing, read from the ONNX graph (no code runs)."""
    import onnx
    from onnx import helper

    model = onnx.load(str(path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    producers = {out: node.op_type for node in model.graph.node for out in node.output}
    missing: list[Missing] = []

    def spec(value: Any, role: str, index: int) -> dict[str, Any]:
        tensor = value.type.tensor_type
        dtype = str(np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type)))
        if dtype not in DTYPES:
            missing.append(Missing(f"{role}.{index}.dtype", True, f"the ONNX type {dtype} is not one fairkg knows"))
        shape: list[int | str] = []
        for axis, dim in enumerate(tensor.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                shape.append(int(dim.dim_value))
            else:
                name = _DIM_NAME.sub("_", dim.dim_param) if dim.dim_param else f"dim{axis}"
                shape.append(name if re.match(r"^[A-Za-z_]", name) else f"d_{name}")
        entry: dict[str, Any] = {"name": value.name, "dtype": dtype, "shape": shape}
        text = f"{value.name} as the ONNX graph declares it: {dtype} [{', '.join(str(d) for d in shape)}]"
        semantics = _SEMANTICS.get(producers.get(value.name, "")) if role == "outputs" else None
        if semantics:
            entry["semantics"] = semantics[0]
            text += f"; {semantics[1]} (the graph ends in {producers[value.name]})"
        entry["description"] = text
        missing.append(Missing(f"{role}.{index}.description", False,
                               f"say what {value.name}'s values mean (units, normalisation, order of classes)"))
        return entry

    inputs = [spec(v, "inputs", i) for i, v in enumerate(v for v in model.graph.input if v.name not in initializers)]
    outputs = [spec(v, "outputs", i) for i, v in enumerate(model.graph.output)]
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    info = {"opset": opset, "ir": model.ir_version, "producer": model.producer_name,
            "producer_version": model.producer_version}
    return inputs, outputs, info, missing


def _onnx_weights(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _load_state_dict(path: Path) -> dict[str, Any]:
    """A state dict through torch's restricted unpickler (tensors and plain containers only)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, AttributeError) as exc:
        raise UnsafeArtifactError(
            f"{path.name} does not load with torch.load(weights_only=True), which refuses pickled code and "
            f"arbitrary objects: {str(exc).splitlines()[0]}"
        ) from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UnsafeArtifactError(f"{path.name} is not a state dict (a mapping of names to tensors)")
    return state


def convert_state_dict_to_safetensors(pth: Path, out: Path, *, metadata: dict[str, str] | None = None) -> Path:
    """Convert a PyTorch state dict (pickle) into safetensors, loading it with ``torch.load(weights_only=True)``.

    Args:
        metadata: written into the safetensors header (e.g. ``{"architecture": "fairkg.interaction-network"}``).

    Raises:
        UnsafeArtifactError: the file needs more than torch's restricted unpickler (pickled code, arbitrary
            objects), or is not a mapping of names to tensors. Nothing in it was executed.
    """
    from safetensors.torch import save_file

    state = _load_state_dict(pth)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().clone().contiguous() for k, v in state.items()}, str(out), metadata=metadata)
    out.chmod(0o644)
    return out


def _matching_architectures(state: dict[str, Any]) -> list[str]:
    from fairkg.runners.architectures import build_architecture, registered_architectures
    from fairkg.runners.errors import ArchitectureError

    shapes = {k: tuple(v.shape) for k, v in state.items()}
    found = []
    for name in registered_architectures():
        try:
            module = build_architecture(name)
        except ArchitectureError:
            continue
        if {k: tuple(v.shape) for k, v in module.state_dict().items()} == shapes:
            found.append(name)
    return found


def _state_dict_note(path: Path, onnx_weights: dict[str, dict[str, np.ndarray]], output_semantics: str | None
                     ) -> str:
    try:
        state = _load_state_dict(path)
    except UnsafeArtifactError as exc:
        return f"{path.name}: not registered: {exc}"
    note = (f"{path.name}: a PyTorch state dict in pickle format ({len(state)} tensors), not registered as loadable "
            "weights (fairkg never unpickles model files); fairkg.runners.importer.convert_state_dict_to_safetensors"
            " converts it with torch.load(weights_only=True)")
    for onnx_name, weights in onnx_weights.items():
        same = [k for k, v in state.items() if k in weights and np.array_equal(v.numpy(), weights[k])]
        if same and len(same) == len(state):
            note += f"; its tensors are exactly {onnx_name}'s weights"
        elif same:
            note += f"; {len(same)} of its tensors equal {onnx_name}'s"
        else:
            note += f"; its weights differ from {onnx_name}'s"
    architectures = _matching_architectures(state)
    if architectures:
        note += f"; it fits the registered architecture {', '.join(architectures)}"
    if output_semantics == "probabilities":
        note += ("; that network outputs logits (no softmax) while the ONNX outputs probabilities, so converted "
                 "weights are a different model (outputs: logits), to be registered on their own card rather than "
                 "as a distribution of this one")
    return note


def _plan_distribution(path: Path, readme: str, notes: list[str], missing: list[Missing]) -> dict[str, Any] | None:
    header = read_plan_header(path)
    if header is None:
        notes.append(f"{path.name}: not a TensorRT plan fairkg recognises (no 'ptrt' header): left out")
        return None
    lines = " ".join(_lines_naming(readme, path.name))
    gpu, trt, year = _GPU.search(lines), _TRT.search(lines), _YEAR.search(lines)
    entry: dict[str, Any] = {"path": path.name, "format": "tensorrt"}
    if gpu:
        capability = f" (compute capability {' and '.join(header.compute_capabilities)})" \
            if header.compute_capabilities else ""
        entry["built_for"] = f"NVIDIA {gpu.group(1).strip()}{capability}"
    else:
        missing.append(Missing(f"distributions[{path.name}].built_for", True,
                               "the GPU model the plan was built for: it only loads on that GPU"))
    version = trt.group(1) if trt else header.tensorrt_version
    details = [f"built {year.group(1)}"] if year else []
    details.append(f"engine serialization tag {header.serialization_tag}"
                   + (f" = TensorRT {header.tensorrt_version}" if header.tensorrt_version else ""))
    if version:
        shown = version if "." in version else f"{version}.x"
        entry["runtime_version"] = f"TensorRT {shown} ({'; '.join(details)})"
    else:
        missing.append(Missing(f"distributions[{path.name}].runtime_version", True,
                               "the TensorRT version the plan was built with: it only loads on that version"))
    notes.append(f"{path.name}: a TensorRT plan ({header.describe()}); it is refused wherever its GPU or TensorRT "
                 "version differs from the machine's, and rebuilt from the ONNX on a GPU with TensorRT")
    return entry


def draft(folder: Path) -> Draft:
    """Draft a model card from the published files in ``folder``.

    Raises:
        FileNotFoundError: ``folder`` is not a folder.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of published model files")
    cff = _citation(folder)
    readme = _readme(folder)
    notes: list[str] = []
    missing: list[Missing] = []
    card: dict[str, Any] = {"kind": "model"}
    if cff.get("doi"):
        card["doi"] = str(cff["doi"])
        notes.append(f"doi {cff['doi']}: the DOI CITATION.cff gives (it names the published {cff.get('type', 'work')}"
                     "); fairkg records it as given")
    for field, value in (("title", cff.get("title")), ("description", str(cff.get("abstract") or "").strip())):
        if value:
            card[field] = str(value)
        else:
            source = "abstract" if field == "description" else field
            missing.append(Missing(field, True, f"CITATION.cff has no {source}"))
    creators = _creators(cff)
    if creators:
        card["creators"] = creators
    else:
        missing.append(Missing("creators", True, "CITATION.cff lists no authors: add at least one (name, ORCID)"))
    missing.append(Missing("publisher", True, "CITATION.cff has no publisher (DataCite's publisher of a Zenodo DOI "
                                              "is Zenodo; of a journal article, the journal's publisher)"))
    released = str(cff.get("date-released") or "")
    if re.match(r"^\d{4}", released):
        card["publication_year"] = int(released[:4])
    else:
        missing.append(Missing("publication_year", True, "CITATION.cff has no date-released"))
    if cff.get("version"):
        card["version"] = str(cff["version"])
    else:
        missing.append(Missing("version", False, "CITATION.cff has no version (the card defaults to 1.0.0)"))
    licence = _license(cff, folder)
    if licence:
        card["license"] = licence
    else:
        missing.append(Missing("license", True, "no licence in CITATION.cff or LICENSE: add its SPDX id"))
    if cff.get("keywords"):
        card["keywords"] = [str(k) for k in cff["keywords"]]
    else:
        missing.append(Missing("keywords", False, "CITATION.cff has no keywords"))
    related = []
    if cff.get("repository-code"):
        related.append({"relation": "IsSupplementTo", "identifier": str(cff["repository-code"])})
    if cff.get("url"):
        related.append({"relation": "IsDocumentedBy", "identifier": str(cff["url"])})
    training_dois = sorted({m.group(1) for line in readme.splitlines() if re.search(r"training data", line, re.I)
                            for m in _DOI.finditer(line)} - {str(cff.get("doi", ""))})
    for doi in training_dois:
        related.append({"relation": "IsDerivedFrom", "identifier": doi})
    if related:
        card["related"] = related

    distributions: list[dict[str, Any]] = []
    files: dict[str, Path] = {}
    onnx_weights: dict[str, dict[str, np.ndarray]] = {}
    output_semantics = None
    for path in sorted(folder.iterdir()):
        if path.suffix == ".onnx":
            inputs, outputs, info, onnx_missing = _onnx_tensors(path)
            if "inputs" not in card:
                card["inputs"], card["outputs"] = inputs, outputs
                missing.extend(onnx_missing)
                output_semantics = next((o.get("semantics") for o in outputs if o.get("semantics")), None)
                if info["producer"]:
                    version = ".".join(str(info["producer_version"]).split(".")[:2])
                    card["framework"] = f"{info['producer'].capitalize().replace('Pytorch', 'PyTorch')} {version}"
            distributions.append({"path": path.name, "format": "onnx", "runtime_version":
                                  f"onnx opset {info['opset']} (IR {info['ir']}, exported by {info['producer']} "
                                  f"{info['producer_version']})".replace(" by  ", " by unknown ")})
            files[path.name] = path
            onnx_weights[path.name] = _onnx_weights(path)
        elif path.suffix in _PLAN_SUFFIXES:
            entry = _plan_distribution(path, readme, notes, missing)
            if entry is not None:
                distributions.append(entry)
                files[path.name] = path
    for path in sorted(folder.iterdir()):
        if path.suffix in _STATE_DICT_SUFFIXES:
            notes.append(_state_dict_note(path, onnx_weights, output_semantics))
        elif path.suffix == ".json":
            notes.append(f"{path.name}: not used by the card (upstream metadata); keep it with the published files")
    card["distributions"] = distributions
    if not distributions:
        missing.append(Missing("distributions", True, "no ONNX model or TensorRT plan found: fairkg runs ONNX, "
                                                      "torch.export and safetensors (with a registered architecture)"))
    if "inputs" not in card:
        missing.append(Missing("inputs", True, "no ONNX graph to read the tensors from: declare inputs and outputs"))
    missing.append(Missing("task", False, "e.g. binary classification"))
    missing.append(Missing("reference", False, "no reference input and expected output are published: without one, "
                                               "nobody can check that the model still reproduces its results"))
    data = f" (the README names {', '.join(training_dois)}, linked as IsDerivedFrom)" if training_dois else ""
    missing.append(Missing("trained_on", False, f"the training data are not registered here{data}: register a dataset "
                                                "card for them, then name it in trained_on"))
    return Draft(card=card, files=files, missing=tuple(missing), notes=tuple(notes))


def draft_card(folder: Path) -> dict[str, Any]:
    """The drafted model card (a mapping, as in card.yaml) for the published files in ``folder``; see :func:`draft`
    for what is missing."""
    return draft(folder).card


def write_draft(result: Draft, out_dir: Path) -> Path:
    """Write ``card.yaml`` (the missing fields as comments to fill in) and copy the files it names; returns the
    card's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, source in result.files.items():
        target = out_dir / name
        shutil.copyfile(source, target)
        target.chmod(0o644)
    lines = ["# Drafted by `fairkg import` from the published files; complete it, then `fairkg register` this folder."]
    for item in result.missing:
        lines.append(f"# TODO {item}")
    for note in result.notes:
        lines.append(f"# NOTE {note}")
    body = yaml.safe_dump(result.card, sort_keys=False, allow_unicode=True, width=118)
    path = out_dir / "card.yaml"
    path.write_text("\n".join(lines) + "\n" + body, encoding="utf-8")
    return path
