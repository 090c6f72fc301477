"""kg.provenance: a real (tiny) torch training loop wrapped by the TrainingRecorder."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
import torch

from fairkg.kg.cards import Code, ModelCard, TrainingRun, parse_card
from fairkg.kg.errors import IdentifierError
from fairkg.kg.provenance import ProvenanceError, TrainingRecorder, describe_code, git_commit

DATASET = "10.5072/fairkg.test-data"
CODE = Code(name="tests.train", version="0.0.1")


def _train(tmp_path: Path, *, epochs: int = 3) -> tuple[TrainingRecorder, Path, list[float]]:
    """Fit y = 2x + 1 with SGD, recording it; returns the recorder, the data file and the logged losses."""
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 32).unsqueeze(1)
    y = 2 * x + 1
    data = tmp_path / "data.npy"
    np.save(data, torch.cat([x, y], dim=1).numpy())

    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    loss_fn = torch.nn.MSELoss(reduction="mean")
    recorder = TrainingRecorder(code=CODE)
    recorder.use_dataset(f"https://doi.org/{DATASET.upper()}", path=data)
    recorder.preprocessing("none: the data are synthetic and already scaled")
    losses = []
    with recorder.run(
        optimizer=optimizer, loss_fn=loss_fn, epochs=epochs, batch_size=8, seed=0, extra={"schedule": "constant"}
    ) as run:
        for epoch in range(epochs):
            total = 0.0
            for start in range(0, 32, 8):
                optimizer.zero_grad()
                loss = loss_fn(model(x[start : start + 8]), y[start : start + 8])
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
            losses.append(total / 4)
            run.log_epoch(epoch, loss=losses[-1], val_error=losses[-1] / 2)
    return recorder, data, losses


def test_recorder_captures_hyperparameters_from_the_objects(tmp_path: Path) -> None:
    training = _train(tmp_path)[0].result()

    hp = training.hyperparameters
    assert hp["optimizer"] == "SGD"
    assert hp["optimizer.lr"] == 0.05
    assert hp["optimizer.momentum"] == 0.9
    assert hp["optimizer.weight_decay"] == 1e-4
    assert hp["optimizer.nesterov"] is False
    assert "optimizer.params" not in hp
    assert hp["loss"] == "MSELoss"
    assert hp["loss.reduction"] == "mean"
    assert (hp["epochs"], hp["batch_size"], hp["seed"], hp["schedule"]) == (3, 8, 0, "constant")
    assert all(isinstance(v, str | int | float | bool) for v in hp.values())


def test_recorder_captures_data_metrics_times_and_environment(tmp_path: Path) -> None:
    recorder, data, losses = _train(tmp_path)
    training = recorder.result()

    assert training.datasets == [DATASET]  # normalised from the URL spelling
    assert training.dataset_checksums == {DATASET: hashlib.sha256(data.read_bytes()).hexdigest()}
    assert training.preprocessing == ["none: the data are synthetic and already scaled"]
    assert [(m.epoch, m.name) for m in training.epoch_metrics] == [
        (e, name) for e in range(3) for name in ("loss", "val_error")
    ]
    assert [m.value for m in training.epoch_metrics if m.name == "loss"] == pytest.approx(losses)
    assert losses[-1] < losses[0]
    assert training.started.tzinfo is not None and training.started.utcoffset() == UTC.utcoffset(None)
    assert training.started < training.ended
    assert {p.name: p.version for p in training.software}["torch"] == torch.__version__
    assert training.hardware.cpu_cores >= 1
    assert training.code == CODE


def test_training_run_round_trips_through_a_model_card(tmp_path: Path) -> None:
    training = _train(tmp_path)[0].result()
    card = {
        "kind": "model",
        "title": "Line fit",
        "description": "A linear fit used to test provenance capture.",
        "creators": [{"name": "Josiah Carberry", "orcid": "0000-0002-1825-0097"}],
        "publisher": "fairkg tests",
        "publication_year": 2026,
        "distributions": [{"path": "model.onnx", "format": "onnx"}],
        "training": training.model_dump(mode="json"),
    }

    parsed = parse_card(card)

    assert isinstance(parsed, ModelCard)
    assert parsed.training == training
    assert parsed.training_datasets == [DATASET]


def test_adam_betas_become_a_comma_separated_string(tmp_path: Path) -> None:
    optimizer = torch.optim.Adam(torch.nn.Linear(2, 1).parameters(), lr=1e-3, betas=(0.8, 0.99))
    recorder = TrainingRecorder(code=CODE)
    recorder.use_dataset(DATASET, sha256="a" * 64)
    with recorder.run(optimizer=optimizer, loss_fn=torch.nn.CrossEntropyLoss(), epochs=1, batch_size=4):
        pass

    hp = recorder.result().hyperparameters
    assert hp["optimizer.betas"] == "0.8,0.99"
    assert hp["optimizer.lr"] == 1e-3
    assert hp["loss"] == "CrossEntropyLoss"
    assert "seed" not in hp


def test_extra_values_scalars_and_sequences_are_kept() -> None:
    recorder = TrainingRecorder(code=CODE)
    recorder.use_dataset(DATASET)
    extra = {"dropout": np.float32(0.25), "layers": [60, 60, 20], "augment": False, "unused": None}
    with recorder.run(epochs=1, batch_size=1, extra=extra):
        pass

    hp = recorder.result().hyperparameters
    assert hp["dropout"] == 0.25 and isinstance(hp["dropout"], float)
    assert hp["layers"] == "60,60,20"
    assert hp["augment"] is False
    assert "unused" not in hp


def test_extra_non_scalar_value_is_refused() -> None:
    recorder = TrainingRecorder(code=CODE)
    with (
        pytest.raises(ProvenanceError, match="'schedule'"),
        recorder.run(epochs=1, batch_size=1, extra={"schedule": {"warmup": 5}}),
    ):
        pytest.fail("the run must not start")


def test_result_before_the_run_ends_raises(tmp_path: Path) -> None:
    recorder = TrainingRecorder(code=CODE)
    recorder.use_dataset(DATASET)
    with pytest.raises(ProvenanceError, match="no finished training run"):
        recorder.result()
    with recorder.run(epochs=1, batch_size=1) as run:
        run.log_epoch(0, loss=1.0)
        with pytest.raises(ProvenanceError, match="no finished training run"):
            recorder.result()
    assert isinstance(recorder.result(), TrainingRun)
    with pytest.raises(ProvenanceError, match="has ended"):
        run.log_epoch(1, loss=0.5)


def test_a_run_that_raises_is_not_recorded() -> None:
    recorder = TrainingRecorder(code=CODE)
    recorder.use_dataset(DATASET)
    with pytest.raises(ZeroDivisionError), recorder.run(epochs=1, batch_size=1):
        _ = 1 / 0
    with pytest.raises(ProvenanceError):
        recorder.result()


def test_result_without_a_dataset_raises() -> None:
    recorder = TrainingRecorder(code=CODE)
    with recorder.run(epochs=1, batch_size=1):
        pass
    with pytest.raises(ProvenanceError, match="use_dataset"):
        recorder.result()


def test_one_run_per_recorder() -> None:
    recorder = TrainingRecorder(code=CODE)
    with recorder.run(epochs=1, batch_size=1):
        pass
    with pytest.raises(ProvenanceError, match="already"), recorder.run(epochs=1, batch_size=1):
        pass


def test_use_dataset_refuses_a_non_identifier() -> None:
    with pytest.raises(IdentifierError):
        TrainingRecorder(code=CODE).use_dataset("my dataset")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_describe_code_names_the_module_and_its_git_commit() -> None:
    code = describe_code(_train, version="9.9")
    folder = Path(__file__).parent
    head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)

    assert code.name == _train.__module__
    assert code.version == "9.9"
    assert code.commit == (head.stdout.strip() if head.returncode == 0 else None)


def test_git_commit_outside_a_checkout_is_none(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
