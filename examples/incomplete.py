"""incomplete: a deliberately under-described model, so the demo shows what failing FAIR looks like.

A tiny linear model with an ONNX file and little else: no licence, no link to training data or training run, no
reference example, no evaluation, no keywords, a creator without ORCID, a one-line description. The card still
validates: fairkg accepts it and its FAIR assessment says what is missing.
"""

from __future__ import annotations

from pathlib import Path

import torch

from fairkg.examples._common import PUBLICATION_YEAR, Progress, export_onnx, report, torch_threads, write_card
from fairkg.kg.cards import Creator, ModelCard, TensorSpec
from fairkg.kg.identifiers import mint_doi

MODEL_DOI = mint_doi("incomplete-linear")
SEED = 0


def build(out_dir: Path, *, progress: Progress | None = None) -> list[Path]:
    """Write the incomplete model's card folder; returns it (one folder: it names no dataset)."""
    model_dir = out_dir / "incomplete-linear"
    with torch_threads():
        torch.manual_seed(SEED)
        model = torch.nn.Linear(4, 1)
        distribution = export_onnx(model, {"input": torch.zeros(2, 4)}, ["output"], model_dir / "model.onnx")
    card = ModelCard(
        kind="model",
        doi=MODEL_DOI,
        title="Linear model",
        description="A linear model for sensor readings.",
        creators=[Creator(name="Demo User")],
        publisher="fairkg demo registry",
        publication_year=PUBLICATION_YEAR,
        inputs=[TensorSpec(name="input", dtype="float32", shape=["batch", 4], description="sensor readings")],
        outputs=[TensorSpec(name="output", dtype="float32", shape=["batch", 1], description="a value")],
        distributions=[distribution],
    )
    write_card(model_dir, card)
    report(progress, "incomplete: export", 1, 1)
    return [model_dir]
