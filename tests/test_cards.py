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


# -- safe_load_yaml: PyYAML's results and errors, faster ------------------------------------------------------------

_ROOT = Path(__file__).resolve().parents[1]


def _pyyaml(text: str) -> tuple:
    """``yaml.load`` with libyaml's safe loader: ("ok", value) or ("error", type, message)."""
    try:
        return ("ok", yaml.load(text, Loader=yaml.CSafeLoader))  # noqa: S506 - a safe loader
    except Exception as exc:  # noqa: BLE001 - whatever PyYAML raises, safe_load_yaml must raise too
        return ("error", type(exc), str(exc))


def _ours(text: str) -> tuple:
    from fairkg.kg.cards import safe_load_yaml

    try:
        return ("ok", safe_load_yaml(text))
    except Exception as exc:  # noqa: BLE001
        return ("error", type(exc), str(exc))


def _assert_same(text: str) -> object:
    """safe_load_yaml gives what PyYAML gives: equal values of the same types (repr tells 1, 1.0 and True apart,
    and nan from nan), or the same exception type and message. Returns the value."""
    expected, got = _pyyaml(text), _ours(text)
    assert repr(got) == repr(expected)
    if expected[0] == "ok" and expected[1] == expected[1]:  # nan is not equal to itself
        assert got[1] == expected[1]
    return got[1] if got[0] == "ok" else None


def _yaml_files() -> list[Path]:
    files = sorted(p for folder in ("docs", "examples") for p in (_ROOT / folder).rglob("*.y*ml"))
    assert files, "the documented example cards are YAML files under docs/"
    return files


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(_ROOT)))
def test_safe_load_yaml_reads_the_documented_cards_as_pyyaml_does(path: Path) -> None:
    assert isinstance(_assert_same(path.read_text(encoding="utf-8")), dict)


def test_safe_load_yaml_reads_the_benchmark_cards_as_pyyaml_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(_ROOT))  # bench/ is not an installed package
    from bench.generate import dataset_card as bench_dataset
    from bench.generate import model_card as bench_model

    for i in range(12):
        for card in (bench_model(i, 100), bench_dataset(i, 100)):
            _assert_same(yaml.safe_dump(card, sort_keys=False))
            _assert_same(yaml.safe_dump(card, default_flow_style=True, allow_unicode=True))
    _assert_same(yaml.safe_dump(model_card()))
    _assert_same(yaml.safe_dump(dataset_card()))


EDGE_CASES = {
    "merge key": "base: &b {a: 1, c: 3}\nd:\n  <<: *b\n  c: 4\n",
    "merge list": "x: &x {a: 1}\ny: &y {b: 2}\nz:\n  <<: [*x, *y]\n  b: 3\n",
    "merge at top": "<<: {a: 1}\nb: 2\n",
    "value key": "=: 1\n",
    "binary": "a: !!binary aGVsbG8=\n",
    "set": "!!set {a, b, 1}\n",
    "omap": "!!omap [a: 1, b: 2]\n",
    "pairs": "!!pairs [a: 1, a: 2]\n",
    "explicit str": "a: !!str 1\nb: !!str true\nc: !!str 2026-01-01\nd: !!str ~\n",
    "explicit int": "a: !!int '0x1F'\nb: !!int \"12\"\nc: !!int 0o17\n",
    "explicit float": "a: !!float 1\nb: !!float '1e3'\n",
    "explicit null bool map seq": "a: !!null ''\nb: !!bool 'yes'\nc: !!map {x: 1}\nd: !!seq [1]\n",
    "tag directive": "%TAG !e! tag:yaml.org,2002:\n---\n- !e!int '5'\n- !e!str 5\n",
    "non-specific tag": "- ! 12\n- ! true\n",
    "complex key": "? [1, 2]\n: x\n",
    "block complex key": "? - a\n  - b\n: c\n",
    "mapping key": "? {a: 1}\n: x\n",
    "duplicate keys": "a: 1\nb: 2\na: 3\n",
    "equal keys": "{1: a, 1.0: b, true: c}\n",
    "timestamps": "a: 2001-12-14t21:59:43.10-05:00\nb: 2001-12-14 21:59:43.10\nc: 2002-12-14\n"
                  "d: 2026-11-01T10:00:00+00:00\ne: 2001-12-15T02:59:43.1Z\n",
    "booleans": "a: [yes, no, on, off, Yes, NO, On, OFF, y, n, True, false, TRUE]\n",
    "nulls": "a: ~\nb: null\nc:\nd: Null\n",
    "ints": "a: [0o17, 017, 0x1F, 0b101, 1_000, +12, -0, 0, 99999999999999999999999999]\n",
    "floats": "a: [1.5, 1e3, 1.0e+3, -1.5e-3, 1_0.5, .5, 6.8523015e+5, 685.230_15e+03]\n",
    "special floats": "a: [.inf, -.inf, +.inf, .Inf, .INF, .nan, .NaN, .NAN]\n",
    "sexagesimal": "a: 1:20\nb: 190:20:30.15\nc: -1:30\n",
    "strings": "a: 'single ''quoted'''\nb: \"double \\\"quoted\\\" \\t \\u00e9 \\U0001F600\"\n"
               "c: |\n  literal\n  block\nd: >\n  folded\n  block\n",
    "scalar alias": "a: &x 1\nb: *x\nc: &s text\nd: *s\n",
    "empty document": "",
    "comment only": "# nothing here\n\n",
    "explicit empty document": "---\n",
    "document end": "---\na: 1\n...\n",
    "scalar document": "just a string\n",
    "sequence document": "- 1\n- two\n",
    "nested": "a:\n  b:\n    - {c: [1, 2, {d: e}]}\n    - []\n    - {}\n",
    "unicode": "名前: データ\némoji: 😀\n",
}

ERROR_CASES = {
    "unclosed flow": "kind: model\ntitle: [unclosed\n",
    "bad indentation": "a: b: c\n",
    "tab indentation": "a:\n\t- 1\n",
    "undefined alias": "a: *nowhere\n",
    "unknown tag": "a: !foo x\n",
    "bad int": "a: !!int x\n",
    "str tag on sequence": "!!str [1]\n",
    "map tag on scalar": "!!map x\n",
    "unhashable key": "{[1]: 2}\n",
    "unhashable mapping key": "{{a: 1}: 2}\n",
    "bad merge": "a: 1\n<<: 2\n",
    "multiple documents": "a: 1\n---\nb: 2\n",
    "multiple empty documents": "---\n---\n",
    "bad escape": "a: \"\\q\"\n",
    "control character": "a: \x07\n",
    "duplicate anchor use before definition": "- *a\n- &a 1\n",
}


@pytest.mark.parametrize("text", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_safe_load_yaml_gives_what_pyyaml_gives(text: str) -> None:
    _assert_same(text)


@pytest.mark.parametrize("text", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_safe_load_yaml_raises_what_pyyaml_raises(text: str) -> None:
    expected = _pyyaml(text)
    assert expected[0] == "error"
    assert _ours(text) == expected


def test_safe_load_yaml_keeps_aliased_collections_one_object() -> None:
    from fairkg.kg.cards import safe_load_yaml

    out = _assert_same("a: &x [1]\nb: *x\nc: &m {k: v}\nd: *m\ne: [*x, *m]\n")
    assert out["a"] is out["b"] and out["c"] is out["d"]
    assert out["e"][0] is out["a"] and out["e"][1] is out["c"]
    recursive = safe_load_yaml("&r [1, *r]\n")
    assert recursive[1] is recursive
    assert safe_load_yaml(yaml.safe_dump({"x": [1], "y": [1]})) == {"x": [1], "y": [1]}


def test_safe_load_yaml_gives_pyyaml_types() -> None:
    from fairkg.kg.cards import safe_load_yaml

    out = safe_load_yaml(EDGE_CASES["timestamps"] + EDGE_CASES["special floats"].replace("a:", "f:"))
    assert [type(out[k]).__name__ for k in "abcde"] == ["datetime", "datetime", "date", "datetime", "datetime"]
    assert out["a"].utcoffset() is not None and out["b"].tzinfo is None
    assert all(isinstance(v, float) for v in out["f"])
    assert safe_load_yaml("a: !!binary aGVsbG8=\n") == {"a": b"hello"}
    assert safe_load_yaml("!!set {a, b}\n") == {"a", "b"}


def test_a_card_with_yaml_pyyaml_refuses_is_a_card_error(tmp_path: Path) -> None:
    for name, text in ERROR_CASES.items():
        if name == "bad int":
            continue  # PyYAML raises int()'s ValueError there, not a YAMLError
        path = tmp_path / "card.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(CardError, match="not valid YAML"):
            load_card(path)


def test_safe_load_yaml_reads_deeply_nested_documents_as_pyyaml_does() -> None:
    from fairkg.kg.cards import safe_load_yaml

    depth = 600
    text = "x: " + "{a: " * depth + "1" + "}" * depth + "\n"
    expected = yaml.load(text, Loader=yaml.CSafeLoader)  # noqa: S506
    got = safe_load_yaml(text)
    for _ in range(depth):
        expected, got = expected["x" if "x" in expected else "a"], got["x" if "x" in got else "a"]
    assert got == expected == {"a": 1}
