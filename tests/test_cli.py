"""The command line as a user runs it: exit codes, stdout holding only JSON with --format json, errors on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cards import dataset_card, model_card, write_card
from typer.testing import CliRunner

from fairkg.api.cli import app


@pytest.fixture
def cli(tmp_path: Path):
    runner = CliRunner()
    home = tmp_path / "home"

    def run(*args: str):
        return runner.invoke(app, ["--home", str(home), *args])

    run.home = home  # type: ignore[attr-defined]
    return run


def _registered(cli, tmp_path: Path) -> None:
    assert cli("register", str(write_card(tmp_path / "data", dataset_card()))).exit_code == 0
    assert cli("register", str(write_card(tmp_path / "model", model_card()))).exit_code == 0


def test_card_schema_prints_json_schema(cli) -> None:
    result = cli("card-schema")
    assert result.exit_code == 0 and "ModelCard" in json.loads(result.stdout)["$defs"]


def test_register_then_query_as_sparql_json(cli, tmp_path: Path) -> None:
    _registered(cli, tmp_path)
    result = cli("query", "SELECT ?m ?t WHERE { ?m a <http://www.w3.org/ns/mls#Model> ; "
                 "<http://purl.org/dc/terms/title> ?t }", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout holds only the JSON
    assert data["head"]["vars"] == ["m", "t"]
    assert [b["t"]["value"] for b in data["results"]["bindings"]] == ["Test model"]
    csv = cli("query", "SELECT ?t WHERE { ?m <http://purl.org/dc/terms/identifier> ?doi ; "
              "<http://purl.org/dc/terms/title> ?t } ORDER BY ?t", "--format", "csv")
    assert csv.stdout.splitlines() == ["t", "Test data", "Test model"]


def test_a_broken_card_exits_non_zero_naming_the_field_and_writes_nothing(cli, tmp_path: Path) -> None:
    _registered(cli, tmp_path)
    before = cli("query", "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", "--format", "json").stdout
    bad = write_card(tmp_path / "bad", model_card(doi="10.5072/other", inputs=[{"name": "x", "dtype": "float",
                                                                              "shape": [1], "description": "xxx"}]))
    result = cli("register", str(bad))
    assert result.exit_code == 1 and "inputs.0.dtype" in result.output
    missing = write_card(tmp_path / "missing", model_card(doi="10.5072/other"), files={"model.onnx": b"x"})
    result = cli("register", str(missing))
    assert result.exit_code == 1 and "model.pt2" in result.output
    after = cli("query", "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", "--format", "json").stdout
    assert before == after


def test_resolve_and_provenance(cli, tmp_path: Path) -> None:
    _registered(cli, tmp_path)
    result = cli("resolve", "https://doi.org/10.5072/TEST.MODEL", "--format", "json")
    assert result.exit_code == 0
    found = json.loads(result.stdout)
    assert {"iri", "key", "identifiers"} <= set(found) and found["iri"].endswith(found["key"])
    assert {"scheme": "doi", "value": "10.5072/test.model"} in found["identifiers"]
    assert cli("resolve", "10.5072/nothing-here").exit_code == 1
    prov = cli("provenance", "10.5072/test.model", "--format", "json")
    record = json.loads(prov.stdout)
    assert dict(map(tuple, record["hyperparameters"]))["lr"] == "0.1"
    assert record["datasets"][0]["doi"] == "10.5072/test.data" and record["datasets"][0]["files"]
    table = cli("provenance", "10.5072/test.model")
    assert table.exit_code == 0 and "Test CPU" in table.stdout and "data.h5" in table.stdout


def test_dump_and_restore_round_trip_graph_and_artifacts(cli, tmp_path: Path) -> None:
    _registered(cli, tmp_path)
    archive = tmp_path / "backup.tar.gz"
    assert cli("dump", str(archive)).exit_code == 0
    count = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    before = json.loads(cli("query", count, "--format", "json").stdout)
    files_before = {p.relative_to(cli.home): p.read_bytes() for p in (cli.home / "artifacts").rglob("*") if p.is_file()}
    cli("withdraw", "10.5072/test.model", "--reason", "testing the restore")
    other = CliRunner().invoke(app, ["--home", str(tmp_path / "elsewhere"), "restore", str(archive)])
    assert other.exit_code == 0, other.output
    restored = CliRunner().invoke(app, ["--home", str(tmp_path / "elsewhere"), "query", count, "--format", "json"])
    assert json.loads(restored.stdout) == before
    files_after = {p.relative_to(tmp_path / "elsewhere"): p.read_bytes()
                   for p in (tmp_path / "elsewhere" / "artifacts").rglob("*") if p.is_file()}
    assert files_after == files_before
    tampered = tmp_path / "tampered.tar"
    import tarfile

    with tarfile.open(archive) as src, tarfile.open(tampered, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.startswith("artifacts/"):
                data = bytes([data[0] ^ 1]) + data[1:]
            member.size = len(data)
            import io

            dst.addfile(member, io.BytesIO(data))
    refused = CliRunner().invoke(app, ["--home", str(tmp_path / "third"), "restore", str(tampered)])
    assert refused.exit_code == 1 and "checksum" in refused.output


def test_withdraw_keeps_metadata(cli, tmp_path: Path) -> None:
    _registered(cli, tmp_path)
    assert cli("withdraw", "10.5072/test.model", "--reason", "obsolete").exit_code == 0
    ask = cli("query", "ASK { ?m <https://w3id.org/fairkg/ontology#withdrawn> true ; "
              "<http://purl.org/dc/terms/title> 'Test model' }", "--format", "json")
    assert json.loads(ask.stdout)["boolean"] is True


def test_bad_format_is_a_usage_error(cli) -> None:
    assert cli("query", "ASK {}", "--format", "xml").exit_code == 2
