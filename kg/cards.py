"""Model and dataset cards: the YAML a publisher writes (or a training script emits), validated before anything
is written. ``fairkg card-schema`` prints the JSON Schema; ``docs/model-card.example.yaml`` is annotated.

A :class:`CardError` names the first bad field (dotted path, e.g. ``inputs.0.dtype``) and what was expected.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from fairkg.kg.errors import CardError, IdentifierError
from fairkg.kg.identifiers import parse_identifier
from fairkg.kg.ntriples import iri

DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64")
#: distribution formats fairkg knows, with their media type and the specification they conform to
FORMATS: dict[str, tuple[str, str]] = {
    "torch-export": ("application/x-pytorch-export", "https://pytorch.org/docs/stable/export.html"),
    "safetensors": ("application/x-safetensors", "https://github.com/huggingface/safetensors"),
    "onnx": ("application/onnx", "https://onnx.org/"),
    "tensorrt": ("application/x-tensorrt-plan", "https://docs.nvidia.com/deeplearning/tensorrt/"),
}
_ORCID = re.compile(r"^(https://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")
_SPDX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-+]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Creator(_Strict):
    """A person (or organisation) who made the resource."""

    name: str = Field(min_length=1, description="Display name, e.g. 'Ada Lovelace'.")
    orcid: str | None = Field(default=None, description="ORCID iD, bare (0000-0002-1825-0097) or as its URL.")
    affiliation: str | None = None

    @field_validator("orcid")
    @classmethod
    def _orcid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _ORCID.match(value.strip())
        if not match:
            raise ValueError("an ORCID iD looks like 0000-0002-1825-0097 or https://orcid.org/0000-0002-1825-0097")
        return match.group(2)


class Related(_Strict):
    """A qualified reference to another resource (DataCite relatedIdentifier)."""

    relation: Literal["IsDerivedFrom", "IsVersionOf", "IsNewVersionOf", "References", "IsDocumentedBy", "Requires",
                      "IsSupplementTo", "Cites"]
    identifier: str = Field(description="DOI, ARK, URL... of the related resource.")

    @field_validator("identifier")
    @classmethod
    def _resolvable(cls, value: str) -> str:
        try:
            target = parse_identifier(value)
        except IdentifierError as exc:
            raise ValueError(str(exc)) from exc
        _absolute_iri(target.url or target.value)
        return value


def _absolute_iri(value: str) -> str:
    """``value`` if it is an absolute IRI (checked as the store checks IRIs), else ValueError saying so."""
    try:
        iri(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an absolute IRI (a URL without spaces, quotes or a bad %-escape)"
                         ) from exc
    return value


def _identifier(value: str) -> str:
    try:
        return parse_identifier(value).value
    except IdentifierError as exc:
        raise ValueError(str(exc)) from exc


class ResourceCard(_Strict):
    """DataCite's mandatory and recommended properties, shared by models and datasets."""

    doi: str | None = Field(
        default=None,
        description="The DOI (bare or as a URL). Absent: fairkg mints one under the test prefix 10.5072 from the "
        "title, so keep the title stable or give the DOI.",
    )
    alternate_identifiers: list[str] = Field(default_factory=list, description="ARKs, minids, handles, URLs.")
    title: str = Field(min_length=3)
    description: str = Field(min_length=10, description="What it is, what it is for, how it was made.")
    creators: list[Creator] = Field(min_length=1)
    publisher: str = Field(min_length=1, description="Who publishes it (DataCite Publisher).")
    publication_year: int = Field(ge=1900, le=2100)
    version: str = Field(default="1.0.0", min_length=1)
    license: str | None = Field(default=None, description="An SPDX licence id, e.g. MIT, Apache-2.0, CC-BY-4.0.")
    keywords: list[str] = Field(default_factory=list)
    access: Literal["public", "restricted"] = Field(
        default="public", description="restricted: artifacts and inference need a token; metadata stays public."
    )
    related: list[Related] = Field(default_factory=list)

    @field_validator("doi")
    @classmethod
    def _doi(cls, value: str | None) -> str | None:
        if value is None:
            return None
        ident = parse_identifier(value) if value else None
        if ident is None or ident.scheme != "doi":
            raise ValueError("expected a DOI such as 10.5072/my-model (doi:… and https://doi.org/… also work)")
        return ident.value

    @field_validator("alternate_identifiers")
    @classmethod
    def _alternates(cls, values: list[str]) -> list[str]:
        return [_identifier(v) for v in values]

    @field_validator("license")
    @classmethod
    def _license(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.removeprefix("http://spdx.org/licenses/").removeprefix("https://spdx.org/licenses/")
        if not _SPDX_ID.match(value):
            raise ValueError("expected an SPDX licence identifier such as MIT, Apache-2.0 or CC-BY-4.0")
        return value


def _relative_path(value: str) -> str:
    """A file named by a card must lie in the card's folder: relative, without `..`, so registering a card can
    never copy (and later serve) a file from elsewhere on the machine."""
    parts = value.replace("\\", "/").split("/")
    if not value or value.startswith(("/", "~")) or ":" in parts[0] or ".." in parts:
        raise ValueError("give a path relative to the card's folder, inside it (no leading /, ~ or ..)")
    return value


RelativePath = Annotated[str, AfterValidator(_relative_path)]


class DataFile(_Strict):
    """One file of a dataset."""

    path: RelativePath = Field(description="Path of the file, relative to the card.")
    media_type: str = Field(default="application/x-hdf5")
    description: str | None = None
    splits: list[str] = Field(default_factory=list, description="Splits the file holds, e.g. [train, test].")


class DatasetCard(ResourceCard):
    """A dataset: DataCite metadata plus its files (hashed and copied into the artifact store)."""

    kind: Literal["dataset"]
    files: list[DataFile] = Field(min_length=1)
    provenance: str | None = Field(default=None, description="How the data were collected or generated.")
    record_count: int | None = Field(default=None, ge=0, description="Number of samples.")
    features: str | None = Field(default=None, description="What each sample holds (names, shapes, units).")


Dim = Annotated[int | str, Field(description="A size, or a name for a dimension of any size (e.g. 'batch').")]


class TensorSpec(_Strict):
    """One input or output tensor of a model."""

    name: str = Field(min_length=1)
    dtype: Literal[DTYPES]  # type: ignore[valid-type]
    shape: list[Dim] = Field(min_length=1, description="First dimension usually 'batch'.")
    description: str = Field(min_length=3, description="What the values mean: units, normalisation, layout.")
    semantics: str | None = Field(default=None, description="e.g. logits, probabilities, coordinates.")

    @field_validator("shape")
    @classmethod
    def _shape(cls, dims: list[int | str]) -> list[int | str]:
        for dim in dims:
            if isinstance(dim, int) and dim < 1:
                raise ValueError("sizes are positive integers; name a dimension of any size, e.g. 'batch'")
            if isinstance(dim, str) and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", dim):
                raise ValueError(f"dimension name {dim!r}: use letters, digits and _")
        return dims


class Distribution(_Strict):
    """One serialisation of the trained model."""

    path: RelativePath = Field(description="Path of the file, relative to the card.")
    format: Literal["torch-export", "safetensors", "onnx", "tensorrt"]
    architecture: str | None = Field(
        default=None, description="For safetensors: the registered architecture that builds the model."
    )
    runtime_version: str | None = Field(default=None, description="e.g. torch 2.13.0, onnx opset 18, TensorRT 10.3")
    built_for: str | None = Field(default=None, description="For hardware-specific formats: the GPU it targets.")


class Reference(_Strict):
    """A small input with its expected output (a safetensors file keyed by tensor names) and a tolerance."""

    path: RelativePath
    tolerance: float = Field(gt=0, description="Largest allowed absolute deviation from the expected output.")


class Package(_Strict):
    name: str
    version: str


class Gpu(_Strict):
    name: str
    memory_bytes: int | None = None
    driver_version: str | None = None
    cuda_version: str | None = None
    compute_capability: str | None = None


class Hardware(_Strict):
    """The machine a run executed on, as :mod:`fairkg.kg.environment` detects it."""

    hostname_hash: str = Field(description="SHA-256 of the host name: identifies the machine, reveals nothing.")
    cpu_model: str
    cpu_cores: int = Field(ge=1)
    memory_bytes: int = Field(ge=0)
    architecture: str
    operating_system: str
    gpus: list[Gpu] = Field(default_factory=list)


class Code(_Strict):
    """The training code (an mls:Implementation)."""

    name: str
    version: str
    repository: Annotated[str, AfterValidator(_absolute_iri)] | None = None
    commit: str | None = None


class EpochMetric(_Strict):
    epoch: int = Field(ge=0)
    name: str
    value: float


class TrainingRun(_Strict):
    """What :class:`fairkg.kg.provenance.TrainingRecorder` captured while training (not typed by hand)."""

    started: datetime
    ended: datetime
    datasets: list[str] = Field(min_length=1, description="Identifiers of the registered training datasets.")
    dataset_checksums: dict[str, str] = Field(default_factory=dict, description="dataset identifier -> SHA-256")
    hyperparameters: dict[str, str | int | float | bool]
    preprocessing: list[str] = Field(default_factory=list)
    epoch_metrics: list[EpochMetric] = Field(default_factory=list)
    code: Code
    software: list[Package] = Field(min_length=1)
    python_version: str
    hardware: Hardware

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, values: list[str]) -> list[str]:
        return [_identifier(v) for v in values]


class Evaluation(_Strict):
    metric: str = Field(description="e.g. accuracy, roc_auc, mean_euclidean_distance_px")
    value: float
    dataset: str = Field(description="Identifier of the dataset evaluated on.")
    split: str | None = Field(default=None, description="e.g. test")

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, value: str) -> str:
        return _identifier(value)


class ModelCard(ResourceCard):
    """A trained model: DataCite metadata, tensors, distributions, training provenance, evaluations."""

    kind: Literal["model"]
    task: str | None = Field(default=None, description="e.g. image classification, regression")
    framework: str | None = Field(default=None, description="e.g. PyTorch 2.13")
    inputs: list[TensorSpec] = Field(default_factory=list)
    outputs: list[TensorSpec] = Field(default_factory=list)
    distributions: list[Distribution] = Field(min_length=1)
    reference: Reference | None = None
    training: TrainingRun | None = None
    trained_on: list[str] = Field(default_factory=list, description="Training datasets (defaults to training's).")
    evaluations: list[Evaluation] = Field(default_factory=list)
    usage: str | None = Field(default=None, description="How to run it.")
    intended_use: str | None = None
    limitations: str | None = None

    @field_validator("trained_on")
    @classmethod
    def _trained_on(cls, values: list[str]) -> list[str]:
        return [_identifier(v) for v in values]

    @property
    def training_datasets(self) -> list[str]:
        """Identifiers of the training datasets, from ``trained_on`` or the captured training run."""
        found = list(self.trained_on)
        for ident in self.training.datasets if self.training else []:
            if ident not in found:
                found.append(ident)
        return found


Card = ModelCard | DatasetCard


def parse_card(data: Any) -> Card:
    """Validate a card (a mapping, as loaded from YAML).

    Raises:
        CardError: naming the first bad field and what it expects.
    """
    if not isinstance(data, dict):
        raise CardError("a card is a YAML mapping with at least `kind: model` or `kind: dataset`", field=None)
    kind = data.get("kind")
    model = {"model": ModelCard, "dataset": DatasetCard}.get(kind)  # type: ignore[arg-type]
    if model is None:
        raise CardError(f"kind: expected 'model' or 'dataset', got {kind!r}", field="kind")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        got = first.get("input")
        got_text = "" if first["type"] == "missing" else f" (got {got!r})"
        raise CardError(f"{field}: {first['msg']}{got_text}", field=field) from exc


def load_card(path: Path) -> tuple[Card, Path]:
    """Read and validate the card at ``path`` (a YAML file, or a folder holding ``card.yaml``).

    Returns:
        The card and the folder its relative paths start from.
    """
    card_path = path / "card.yaml" if path.is_dir() else path
    if not card_path.is_file():
        raise CardError(f"no card at {card_path}: give a YAML card file or a folder holding card.yaml")
    try:
        data = safe_load_yaml(card_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: e.g. `!!int x`, which PyYAML cannot construct
        raise CardError(f"{card_path} is not valid YAML: {exc}") from exc
    return parse_card(data), card_path.parent


# libyaml's safe loader when PyYAML has it (~8x faster than the pure-Python one, same result)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_SCALARS = {"tag:yaml.org,2002:int": "construct_yaml_int", "tag:yaml.org,2002:float": "construct_yaml_float",
            "tag:yaml.org,2002:bool": "construct_yaml_bool", "tag:yaml.org,2002:null": "construct_yaml_null",
            "tag:yaml.org,2002:timestamp": "construct_yaml_timestamp"}


class _Unusual(Exception):
    """A node :func:`safe_load_yaml`'s quick path leaves to PyYAML (merge keys, other tags, unhashable keys)."""


def safe_load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, faster for cards: libyaml builds the nodes, and plain mappings, sequences and
    scalars are turned into Python objects here, ~40% faster than PyYAML's general constructor (a quarter of a
    card's registration). Anything else (merge keys, explicit tags, anchors reused) is left to PyYAML itself, so
    the result and the errors are PyYAML's."""
    loader = _SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        seen: set[int] = set()
        scalars = {tag: getattr(loader, name) for tag, name in _SCALARS.items()}

        def build(node: yaml.Node) -> Any:
            kind, tag = type(node), node.tag
            if kind is yaml.ScalarNode:
                if tag == _STR:
                    return node.value
                if tag in scalars:
                    return scalars[tag](node)
                raise _Unusual
            if id(node) in seen:  # an alias of a collection: PyYAML gives the same object twice
                raise _Unusual
            seen.add(id(node))
            if kind is yaml.MappingNode and tag == _MAP:
                return {build(key): build(value) for key, value in node.value}  # TypeError: an unhashable key
            if kind is yaml.SequenceNode and tag == _SEQ:
                return [build(item) for item in node.value]
            raise _Unusual

        try:
            return build(node)
        except (_Unusual, TypeError, RecursionError):  # RecursionError: nested deeper than this recursion goes
            return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    finally:
        loader.dispose()


def card_json_schema() -> str:
    """The JSON Schema of model and dataset cards, as text."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "fairkg card",
        "description": "A model card (kind: model) or a dataset card (kind: dataset), as YAML or JSON.",
        "oneOf": [{"$ref": "#/$defs/ModelCard"}, {"$ref": "#/$defs/DatasetCard"}],
        "$defs": {},
    }
    for model in (ModelCard, DatasetCard):
        sub = model.model_json_schema(ref_template="#/$defs/{model}")
        schema["$defs"].update(sub.pop("$defs", {}))
        schema["$defs"][model.__name__] = sub
    return json.dumps(schema, indent=2)
