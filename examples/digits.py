"""digits: a small CNN that classifies 8x8 handwritten digits (scikit-learn's bundled copy of the UCI data).

The role of dtoolAI's MNIST example: real data, a real training run with its provenance captured, three exports.
``build`` writes two card folders: ``digits-data`` (the dataset, one HDF5 file) and ``digits-cnn`` (the model).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from fairkg.examples._common import (
    ATTRIBUTION,
    FRAMEWORK,
    MODEL_LICENSE,
    Progress,
    export_model,
    parameter_count,
    predict,
    read_split,
    report,
    torch_threads,
    train,
    write_card,
    write_hdf5,
    write_reference,
)
from fairkg.examples.architectures import DigitsCNN
from fairkg.kg.cards import DataFile, DatasetCard, Evaluation, ModelCard, Related, TensorSpec
from fairkg.kg.identifiers import mint_doi
from fairkg.kg.provenance import TrainingRecorder, describe_code

DATA_DOI = mint_doi("digits-data")
MODEL_DOI = mint_doi("digits-cnn")
ARCHITECTURE = "fairkg.digits-cnn"
UCI_DOI = "10.24432/C50P49"
UCI_CITATION = (
    "Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten Digits [Dataset]. "
    "UCI Machine Learning Repository. https://doi.org/10.24432/C50P49"
)
SEED = 0
EPOCHS = 12
BATCH_SIZE = 32
LEARNING_RATE = 2e-3


def digit_splits(seed: int = SEED) -> dict[str, dict[str, np.ndarray]]:
    """scikit-learn's 1797 digits scaled to 0..1, split 70/10/20 into train/validation/test, stratified by label."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = digits.target.astype(np.int64)
    rest, test = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=seed)
    training, validation = train_test_split(rest, test_size=0.125, stratify=labels[rest], random_state=seed)
    return {
        split: {"images": images[index], "labels": labels[index]}
        for split, index in (("train", training), ("validation", validation), ("test", test))
    }


def _dataset_card(splits: dict[str, dict[str, np.ndarray]]) -> DatasetCard:
    counts = ", ".join(f"{name} {len(arrays['labels'])}" for name, arrays in splits.items())
    return DatasetCard(
        kind="dataset",
        doi=DATA_DOI,
        title="Handwritten digits 8x8 (UCI optdigits test set, scaled, split)",
        description=(
            "1797 grey-level images of handwritten digits 0-9, 8x8 pixels, as bundled with scikit-learn "
            "(sklearn.datasets.load_digits): the test partition of the UCI Optical Recognition of Handwritten "
            f"Digits dataset. Source: {UCI_CITATION}, licensed CC-BY-4.0 by the UCI Machine Learning Repository; "
            f"this derived copy keeps that licence. Pixel counts 0..16 scaled to 0..1 and split stratified by "
            f"label ({counts})."
        ),
        license="CC-BY-4.0",
        keywords=["handwritten digits", "image classification", "optdigits", "UCI", "benchmark"],
        related=[Related(relation="IsDerivedFrom", identifier=UCI_DOI)],
        files=[
            DataFile(
                path="digits.h5",
                description="HDF5: /<split>/images float32 [N,1,8,8] in 0..1, /<split>/labels int64 [N] in 0..9",
                splits=list(splits),
            )
        ],
        provenance=(
            "Preprocessing programs from NIST extracted normalised 32x32 bitmaps of digits written by 43 people on "
            "preprinted forms; non-overlapping 4x4 blocks were counted, giving 8x8 images of integers 0..16 "
            "(Alpaydin & Kaynak 1998). fairkg.examples.digits divided by 16 and split with scikit-learn's "
            f"train_test_split (random_state={SEED})."
        ),
        record_count=sum(len(arrays["labels"]) for arrays in splits.values()),
        features="images: float32 [1,8,8], pixel intensity 0..1 (0 background); labels: int64, the digit 0-9",
        **ATTRIBUTION,
    )


def build(out_dir: Path, *, progress: Progress | None = None) -> list[Path]:
    """Write the digits dataset and the trained CNN as card folders; returns them, dataset first."""
    data_dir, model_dir = out_dir / "digits-data", out_dir / "digits-cnn"
    splits = digit_splits()
    data_path = write_hdf5(
        data_dir / "digits.h5",
        splits,
        attrs={
            "title": "Handwritten digits 8x8 (UCI optdigits test set, scaled, split)",
            "source": UCI_CITATION,
            "license": "CC-BY-4.0",
            "scaling": "pixel counts 0..16 divided by 16",
            "split_seed": SEED,
        },
        descriptions={"images": "pixel intensities scaled to 0..1, [N,1,8,8]", "labels": "the digit shown, 0-9"},
    )
    write_card(data_dir, _dataset_card(splits))
    report(progress, "digits: data", 1, 1)

    train_set, validation, test = (read_split(data_path, s) for s in ("train", "validation", "test"))
    recorder = TrainingRecorder(code=describe_code(build))
    recorder.use_dataset(DATA_DOI, path=data_path)
    recorder.preprocessing("pixel counts 0..16 scaled to 0..1 (stored so in the dataset)")
    recorder.preprocessing("training on the 'train' split; per-epoch metrics on the 'validation' split")

    def accuracy(model: torch.nn.Module, split: dict[str, torch.Tensor]) -> float:
        return float((predict(model, [split["images"]]).argmax(1) == split["labels"]).float().mean())

    with torch_threads():
        torch.manual_seed(SEED)
        model = DigitsCNN()
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        train(
            model,
            [train_set["images"]],
            train_set["labels"],
            recorder=recorder,
            optimizer=optimizer,
            loss_fn=torch.nn.CrossEntropyLoss(),
            epochs=EPOCHS,
            batch_size=BATCH_SIZE,
            seed=SEED,
            validate=lambda m: {"val_accuracy": accuracy(m, validation)},
            extra={"architecture": ARCHITECTURE, "weight_init": "PyTorch defaults (Kaiming uniform)"},
            progress=progress,
            stage="digits: training",
        )
        test_accuracy = accuracy(model, test)
        distributions = export_model(
            model, {"image": test["images"][:2]}, ["logits"], model_dir, architecture=ARCHITECTURE
        )
        reference = write_reference(model, {"image": test["images"][:4]}, "logits", model_dir)
    report(progress, "digits: export", 1, 1)

    card = ModelCard(
        kind="model",
        doi=MODEL_DOI,
        title="Digits CNN: handwritten digit classifier for 8x8 images",
        description=(
            "A small convolutional network (two 3x3 convolutions with 16 and 32 channels, 2x2 max-pooling, a "
            f"64-unit hidden layer; {parameter_count(model)} parameters) that classifies 8x8 grey-level images of "
            "handwritten digits 0-9. Trained by fairkg on the train split of the UCI optdigits images bundled "
            "with scikit-learn; training provenance was captured automatically while it trained."
        ),
        license=MODEL_LICENSE,
        keywords=["handwritten digits", "image classification", "convolutional neural network", "optdigits"],
        task="image classification",
        framework=FRAMEWORK,
        inputs=[
            TensorSpec(
                name="image",
                dtype="float32",
                shape=["batch", 1, 8, 8],
                description="grey-level 8x8 image, pixel intensities scaled to 0..1 (0 = background)",
            )
        ],
        outputs=[
            TensorSpec(
                name="logits",
                dtype="float32",
                shape=["batch", 10],
                description="unnormalised scores for the digits 0-9, in that order; softmax gives probabilities",
                semantics="logits",
            )
        ],
        distributions=distributions,
        reference=reference,
        training=recorder.result(),
        evaluations=[Evaluation(metric="accuracy", value=test_accuracy, dataset=DATA_DOI, split="test")],
        usage=(
            "Feed `image`, float32 [batch, 1, 8, 8], pixel counts 0..16 divided by 16. The output `logits` "
            "[batch, 10]: argmax is the predicted digit, softmax the class probabilities. ONNX: "
            "onnxruntime.InferenceSession('model.onnx').run(['logits'], {'image': x}). PyTorch: "
            "torch.export.load('model.pt2').module()(x). Weights: ARCHITECTURES['fairkg.digits-cnn']() from "
            "fairkg.examples.architectures, then load_state_dict(safetensors.torch.load_file('model.safetensors'))."
        ),
        intended_use="Demonstrating FAIR model publication, provenance and inference; teaching.",
        limitations=(
            "Trained on 1257 images from 13 writers (the UCI test partition) at 8x8 resolution: it will not "
            "generalise to other handwriting styles, resolutions or MNIST-style 28x28 images without resampling. "
            "Not for any decision about people."
        ),
        **ATTRIBUTION,
    )
    write_card(model_dir, card)
    return [data_dir, model_dir]
