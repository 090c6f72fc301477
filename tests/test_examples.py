"""examples: build every example once, then check the cards, the data, the exports and the metrics they claim."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file
from sklearn.metrics import roc_auc_score

from fairkg.examples import ARCHITECTURES, EXAMPLES, build_all
from fairkg.examples.architectures import InteractionNetwork
from fairkg.kg.cards import DatasetCard, ModelCard, load_card

#: dataset folder -> array name -> (dtype, shape after the sample dimension)
EXPECTED_ARRAYS = {
    "digits-data": {"images": ("float32", (1, 8, 8)), "labels": ("int64", ())},
    "braggnn-data": {"patches": ("float32", (1, 11, 11)), "centres": ("float32", (2,))},
    "hbb-jets-data": {
        "tracks": ("float32", (30, 60)),
        "vertices": ("float32", (14, 5)),
        "labels": ("int64", ()),
    },
}
COMPLETE_MODELS = ("digits-cnn", "braggnn", "interaction-network")
PUBLISHED_IN = Path(__file__).resolve().parents[2] / "shared" / "peer-models" / "hbb_interaction_network"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ModelCard | DatasetCard, Path]]:
    """Every example built once: folder name -> (card, folder), in registration order."""
    calls: list[tuple[str, int, int]] = []
    folders = build_all(tmp_path_factory.mktemp("examples"), progress=lambda *call: calls.append(call))
    assert calls and all(0 < done <= total for _, done, total in calls)
    return {folder.name: load_card(folder) for folder in folders}


def _session(folder: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])


def _reference(card: ModelCard, folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    assert card.reference is not None
    tensors = load_file(folder / card.reference.path)
    inputs = {k.removeprefix("input."): v for k, v in tensors.items() if k.startswith("input.")}
    outputs = {k.removeprefix("output."): v for k, v in tensors.items() if k.startswith("output.")}
    return inputs, outputs


def _test_split(dataset_folder: Path, data_file: str) -> dict[str, np.ndarray]:
    with h5py.File(dataset_folder / data_file, "r") as handle:
        return {name: array[()] for name, array in handle["test"].items()}


def test_registration_order_and_names(built: dict[str, tuple[ModelCard | DatasetCard, Path]]) -> None:
    assert list(built) == [
        "digits-data",
        "digits-cnn",
        "braggnn-data",
        "braggnn",
        "hbb-jets-data",
        "interaction-network",
        "incomplete-linear",
    ]
    assert list(EXAMPLES) == ["digits", "braggnn", "interaction-network", "incomplete"]
    seen_datasets: set[str] = set()
    for card, _ in built.values():
        if isinstance(card, DatasetCard):
            seen_datasets.add(card.doi or "")
        else:  # every dataset a model names was registered before it
            assert set(card.training_datasets) <= seen_datasets
            assert {e.dataset for e in card.evaluations} <= seen_datasets


def test_every_referenced_file_exists(built: dict[str, tuple[ModelCard | DatasetCard, Path]]) -> None:
    for card, folder in built.values():
        if isinstance(card, DatasetCard):
            paths = [f.path for f in card.files]
        else:
            paths = [d.path for d in card.distributions] + ([card.reference.path] if card.reference else [])
        assert paths
        for path in paths:
            assert not Path(path).is_absolute()
            assert (folder / path).is_file(), f"{folder.name}: {path} is missing"


def test_complete_cards_are_fully_described(built: dict[str, tuple[ModelCard | DatasetCard, Path]]) -> None:
    for name in COMPLETE_MODELS:
        card, _ = built[name]
        assert isinstance(card, ModelCard)
        assert card.doi and card.doi.startswith("10.5072/fairkg.")
        assert card.license == "MIT"
        assert card.creators[0].orcid == "0000-0002-1825-0097"
        assert card.publisher == "fairkg demo registry"
        assert card.keywords and card.usage and card.intended_use and card.limitations and card.task
        assert card.framework == "PyTorch 2.13"
        assert {d.format for d in card.distributions} == {"torch-export", "onnx", "safetensors"}
        assert all(d.runtime_version for d in card.distributions)
        assert all(spec.shape[0] == "batch" for spec in card.inputs + card.outputs)
        assert card.outputs[0].semantics in {"logits", "coordinates"}
    for name in EXPECTED_ARRAYS:
        card, _ = built[name]
        assert isinstance(card, DatasetCard)
        assert card.license == "CC-BY-4.0" and card.provenance and card.features
    digits_data = built["digits-data"][0]
    assert "UCI" in digits_data.description and "10.24432/C50P49" in digits_data.description


def test_training_provenance_was_captured(built: dict[str, tuple[ModelCard | DatasetCard, Path]]) -> None:
    for name in COMPLETE_MODELS:
        card, _ = built[name]
        assert isinstance(card, ModelCard) and card.training is not None
        training = card.training
        dataset = training.datasets[0]
        dataset_card, dataset_folder = next(c for c in built.values() if c[0].doi == dataset)
        assert isinstance(dataset_card, DatasetCard)
        data_file = dataset_folder / dataset_card.files[0].path
        assert training.dataset_checksums[dataset] == hashlib.sha256(data_file.read_bytes()).hexdigest()
        assert training.hyperparameters["optimizer"] == "Adam"
        assert isinstance(training.hyperparameters["optimizer.lr"], float)
        epochs = training.hyperparameters["epochs"]
        assert isinstance(epochs, int)
        assert [m.epoch for m in training.epoch_metrics if m.name == "loss"] == list(range(epochs))
        assert training.started < training.ended
        assert training.code.name.startswith("fairkg.examples.")
        assert "torch" in {p.name for p in training.software}


def test_hdf5_files_hold_the_declared_splits(built: dict[str, tuple[ModelCard | DatasetCard, Path]]) -> None:
    for name, arrays in EXPECTED_ARRAYS.items():
        card, folder = built[name]
        assert isinstance(card, DatasetCard)
        (data_file,) = card.files
        total = 0
        with h5py.File(folder / data_file.path, "r") as handle:
            assert sorted(handle) == sorted(data_file.splits) == ["test", "train", "validation"]
            for split in data_file.splits:
                group = handle[split]
                count = int(group.attrs["count"])
                assert set(group) == set(arrays)
                for array, (dtype, shape) in arrays.items():
                    assert group[array].dtype == np.dtype(dtype), f"{name}/{split}/{array}"
                    assert group[array].shape == (count, *shape), f"{name}/{split}/{array}"
                    assert group[array].attrs["description"]
                total += count
        assert card.record_count == total


def test_onnx_reproduces_the_reference(built: dict[str, tuple[ModelCard | DatasetCard, Path]]) -> None:
    for name in COMPLETE_MODELS:
        card, folder = built[name]
        assert isinstance(card, ModelCard) and card.reference is not None
        inputs, expected = _reference(card, folder)
        assert list(inputs) == [spec.name for spec in card.inputs]
        assert list(expected) == [spec.name for spec in card.outputs]
        got = _session(folder).run(list(expected), {k: v.numpy() for k, v in inputs.items()})
        for (output, want), value in zip(expected.items(), got, strict=True):
            assert np.abs(value - want.numpy()).max() <= card.reference.tolerance, f"{name}: {output}"


def test_onnx_inputs_match_the_card_and_batch_is_dynamic(
    built: dict[str, tuple[ModelCard | DatasetCard, Path]],
) -> None:
    for name in (*COMPLETE_MODELS, "incomplete-linear"):
        card, folder = built[name]
        assert isinstance(card, ModelCard)
        graph = onnx.load(folder / "model.onnx").graph
        for specs, values in ((card.inputs, graph.input), (card.outputs, graph.output)):
            assert [v.name for v in values] == [s.name for s in specs]
            for spec, value in zip(specs, values, strict=True):
                dims = value.type.tensor_type.shape.dim
                assert dims[0].dim_param, f"{name}: {spec.name} has a fixed batch size"
                assert [d.dim_value for d in dims[1:]] == spec.shape[1:]
        single = {s.name: np.zeros([1, *s.shape[1:]], dtype=np.float32) for s in card.inputs}
        assert _session(folder).run(None, single)[0].shape == (1, *card.outputs[0].shape[1:])


def test_torch_export_program_reproduces_the_reference(
    built: dict[str, tuple[ModelCard | DatasetCard, Path]],
) -> None:
    for name in COMPLETE_MODELS:
        card, folder = built[name]
        assert isinstance(card, ModelCard) and card.reference is not None
        inputs, expected = _reference(card, folder)
        program = torch.export.load(folder / "model.pt2").module()
        with torch.no_grad():
            got = program(*inputs.values())
        (want,) = expected.values()
        assert torch.max(torch.abs(got - want)) <= card.reference.tolerance, name


def test_safetensors_weights_rebuild_the_model(built: dict[str, tuple[ModelCard | DatasetCard, Path]]) -> None:
    for name in COMPLETE_MODELS:
        card, folder = built[name]
        assert isinstance(card, ModelCard) and card.reference is not None
        (weights,) = [d for d in card.distributions if d.format == "safetensors"]
        assert weights.architecture in ARCHITECTURES
        model = ARCHITECTURES[weights.architecture]()
        model.load_state_dict(load_file(folder / weights.path), strict=True)
        model.eval()
        inputs, expected = _reference(card, folder)
        with torch.no_grad():
            got = model(*inputs.values())
        (want,) = expected.values()
        assert torch.max(torch.abs(got - want)) <= card.reference.tolerance, name


def _accuracy(outputs: np.ndarray, test: dict[str, np.ndarray]) -> float:
    return float(np.mean(outputs.argmax(axis=1) == test["labels"]))


def _mean_distance(outputs: np.ndarray, test: dict[str, np.ndarray]) -> float:
    return float(np.linalg.norm(outputs - test["centres"], axis=1).mean())


def _auc(outputs: np.ndarray, test: dict[str, np.ndarray]) -> float:
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return float(roc_auc_score(test["labels"], shifted[:, 1] / shifted.sum(axis=1)))


#: model -> (its dataset, the arrays fed as its inputs, the metric's name, how to compute it from the outputs)
METRICS: dict[str, tuple[str, tuple[str, ...], str, Callable[[np.ndarray, dict[str, np.ndarray]], float]]] = {
    "digits-cnn": ("digits-data", ("images",), "accuracy", _accuracy),
    "braggnn": ("braggnn-data", ("patches",), "mean_euclidean_distance_px", _mean_distance),
    "interaction-network": ("hbb-jets-data", ("tracks", "vertices"), "roc_auc", _auc),
}


@pytest.mark.parametrize("name", COMPLETE_MODELS)
def test_claimed_metric_is_reproduced_and_beats_chance(
    built: dict[str, tuple[ModelCard | DatasetCard, Path]], name: str
) -> None:
    card, folder = built[name]
    dataset_name, arrays, metric, compute = METRICS[name]
    dataset_card, dataset_folder = built[dataset_name]
    assert isinstance(card, ModelCard) and isinstance(dataset_card, DatasetCard)
    (evaluation,) = card.evaluations
    assert (evaluation.metric, evaluation.dataset, evaluation.split) == (metric, dataset_card.doi, "test")

    test = _test_split(dataset_folder, dataset_card.files[0].path)
    inputs = {spec.name: test[array] for spec, array in zip(card.inputs, arrays, strict=True)}
    outputs = _session(folder).run(None, inputs)[0]
    value = compute(outputs, test)

    assert value == pytest.approx(evaluation.value, abs=1e-4)
    if name == "digits-cnn":
        assert value > 0.8
    elif name == "interaction-network":
        assert value > 0.8
    else:  # better than always answering the patch's middle pixel
        baseline = _mean_distance(np.full_like(test["centres"], 5.0), test)
        assert value < baseline / 2


def test_incomplete_card_lacks_what_fair_needs(built: dict[str, tuple[ModelCard | DatasetCard, Path]]) -> None:
    card, folder = built["incomplete-linear"]
    assert isinstance(card, ModelCard)
    assert card.license is None
    assert card.training is None and card.trained_on == [] and card.training_datasets == []
    assert card.reference is None and card.evaluations == [] and card.keywords == []
    assert all(c.orcid is None for c in card.creators)
    assert [d.format for d in card.distributions] == ["onnx"]
    assert sorted(p.name for p in folder.iterdir()) == ["card.yaml", "model.onnx"]


@pytest.mark.skipif(not PUBLISHED_IN.is_dir(), reason=f"the published FAIR4HEP model is not at {PUBLISHED_IN}")
def test_interaction_network_is_the_published_architecture() -> None:
    """The published weights load into our architecture (strict) and reproduce the published ONNX model."""
    weights = torch.load(PUBLISHED_IN / "random_gnn_new_best.pth", weights_only=True, map_location="cpu")
    model = InteractionNetwork()
    model.load_state_dict(weights, strict=True)
    model.eval()
    generator = torch.Generator().manual_seed(0)
    tracks = torch.randn(4, 30, 60, generator=generator)
    vertices = torch.randn(4, 14, 5, generator=generator)
    tracks[:, :, 25:] = 0
    vertices[:, :, 2:] = 0

    session = ort.InferenceSession(str(PUBLISHED_IN / "5_10_gnn_128.onnx"), providers=["CPUExecutionProvider"])
    (published,) = session.run(None, {"input_cpf": tracks.numpy(), "input_sv": vertices.numpy()})
    with torch.no_grad():
        ours = torch.softmax(model(tracks, vertices), dim=1).numpy()

    assert np.abs(ours - published).max() < 1e-5
