from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from _cards import dataset_card, model_card

from fairkg.kg.cards import DatasetCard, ModelCard, card_json_schema, load_card, parse_card
from fairkg.kg.errors import CardError


def test_valid_cards_parse_and_normalise_identifiers() -> None:
    card = parse_card(model_card(doi="https://doi.org/10.5072/TEST.Model"))
    assert isinstance(card, ModelCard)
    assert card.doi == "10.5072/test.model"
    assert card.creators[0].orcid == "0000-0002-1825-0097"
    assert card.training_datasets == ["10.5072/test.data"]
    assert isinstance(parse_card(dataset_card()), DatasetCard)


@pytest.mark.parametrize(("change", "field", "expected"), [
    ({"kind": "modell"}, "kind", "'model' or 'dataset'"),
    ({"title": None}, "title", "string"),
    ({"license": "MIT License!"}, "license", "SPDX"),
    ({"doi": "11.1/x"}, "doi", "DOI"),
    ({"publication_year": "last year"}, "publication_year", "integer"),
    ({"creators": []}, "creators", "at least 1"),
    ({"creators": [{"name": "A", "orcid": "1234"}]}, "creators.0.orcid", "ORCID"),
    ({"inputs": [{"name": "x", "dtype": "float33", "shape": [1], "description": "xxx"}]}, "inputs.0.dtype", "float32"),
    ({"inputs": [{"name": "x", "dtype": "float32", "shape": [0], "description": "xxx"}]}, "inputs.0.shape", "positive"),
    ({"distributions": [{"path": "m.bin", "format": "pickle"}]}, "distributions.0.format", "onnx"),
    ({"distributions": []}, "distributions", "at least 1"),
    ({"colour": "blue"}, "colour", "Extra inputs"),
])
def test_bad_cards_name_the_field_and_what_is_expected(change: dict, field: str, expected: str) -> None:
    with pytest.raises(CardError) as info:
        parse_card(model_card(**change))
    assert info.value.field == field
    assert field in str(info.value) and expected in str(info.value)


def test_a_card_must_be_a_mapping_and_yaml(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="mapping"):
        parse_card(["kind", "model"])
    bad = tmp_path / "card.yaml"
    bad.write_text("kind: model\ntitle: [unclosed\n")
    with pytest.raises(CardError, match="not valid YAML"):
        load_card(bad)
    with pytest.raises(CardError, match="no card"):
        load_card(tmp_path / "missing")


def test_the_json_schema_accepts_the_test_cards_and_rejects_a_broken_one() -> None:
    schema = json.loads(card_json_schema())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(json.loads(json.dumps(model_card())))
    validator.validate(dataset_card())
    assert not validator.is_valid({**dataset_card(), "files": []})


def test_the_documented_example_card_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "docs" / "model-card.example.yaml"
    card = parse_card(yaml.safe_load(example.read_text()))
    assert isinstance(card, ModelCard) and card.training is None and card.license


@pytest.mark.parametrize("path", ["../model.onnx", "/etc/passwd", "a/../../b.onnx", "~/x.onnx", "C:/x.onnx"])
def test_card_files_must_lie_inside_the_card_folder(path: str) -> None:
    with pytest.raises(CardError) as info:
        parse_card(model_card(distributions=[{"path": path, "format": "onnx"}]))
    assert info.value.field == "distributions.0.path" and "relative" in str(info.value)


def test_a_symbolic_link_out_of_the_card_folder_is_refused(tmp_path: Path) -> None:
    from _cards import write_card

    from fairkg.kg.errors import ArtifactError
    from fairkg.kg.register import register
    from fairkg.kg.store import open_store

    (tmp_path / "secret").write_bytes(b"not yours")
    folder = write_card(tmp_path / "card", dataset_card(), files={})
    (folder / "data.h5").symlink_to(tmp_path / "secret")
    with pytest.raises(ArtifactError, match="outside its folder"):
        register(open_store("oxigraph:"), folder, home=tmp_path / "home", base_iri="http://localhost:8000")
    assert not (tmp_path / "home").exists()
