"""`fairkg demo --no-serve` builds the whole demo registry: four models, three of them complete, idempotently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairkg.api.cli import app

PREFIXES = """PREFIX mls: <http://www.w3.org/ns/mls#> PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX dcat: <http://www.w3.org/ns/dcat#> PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX fkg: <https://w3id.org/fairkg/ontology#> PREFIX datacite: <http://purl.org/spar/datacite/>
PREFIX literal: <http://www.essepuntato.it/2010/06/literalreification/> PREFIX schema: <http://schema.org/>
PREFIX spdx: <http://spdx.org/rdf/terms#>
"""

COMPLETE = PREFIXES + """
SELECT ?model ?doi WHERE {
  ?model a mls:Model ; dcterms:title ?title ; dcterms:description ?description ; dcterms:issued ?year ;
         dcterms:creator ?creator ; dcat:keyword ?keyword ; fkg:inputSpec ?in ; fkg:outputSpec ?out ;
         datacite:hasIdentifier ?id .
  ?id a datacite:PrimaryResourceIdentifier ; literal:hasLiteralValue ?doi ; datacite:usesIdentifierScheme datacite:doi .
  ?creator schema:name ?name .
  ?model dcterms:license ?licence . FILTER(STRSTARTS(STR(?licence), "http://spdx.org/licenses/"))
  ?in fkg:dtype ?dtype ; fkg:shape ?shape . ?out fkg:dtype ?odtype .
  ?model dcat:distribution ?export , ?onnx .
  ?export a fkg:TorchExportProgram ; spdx:checksum/spdx:checksumValue ?s1 .
  ?onnx a fkg:OnnxModel ; spdx:checksum/spdx:checksumValue ?s2 .
  ?model prov:wasGeneratedBy ?run .
  ?run a mls:Run ; mls:hasInput ?dataset , ?setting ; fkg:softwareEnvironment/fkg:package ?pkg ; fkg:executedOn ?hw .
  ?dataset a mls:Dataset ; dcterms:identifier ?datasetDoi .
  ?setting a mls:HyperParameterSetting ; mls:hasValue ?value .
  ?pkg schema:name "torch" ; schema:softwareVersion ?torchVersion .
  ?hw fkg:cpuModel ?cpu ; fkg:cpuCores ?cores ; fkg:memoryBytes ?memory .
  ?evaluation a mls:ModelEvaluation ; prov:wasDerivedFrom ?model ; mls:hasValue ?metric .
} GROUP BY ?model ?doi ORDER BY ?doi
"""


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo-home")
    result = CliRunner().invoke(app, ["--home", str(home), "demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    return home


def _query(home: Path, sparql: str) -> list[dict]:
    result = CliRunner().invoke(app, ["--home", str(home), "query", sparql, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["results"]["bindings"]


def test_the_demo_holds_four_models_three_of_them_complete(demo_home: Path) -> None:
    models = _query(demo_home, PREFIXES + "SELECT DISTINCT ?m WHERE { ?m a mls:Model }")
    assert len(models) == 4
    complete = [row["doi"]["value"] for row in _query(demo_home, COMPLETE)]
    assert complete == ["10.5072/fairkg.braggnn", "10.5072/fairkg.digits-cnn", "10.5072/fairkg.interaction-network"]


def test_the_incomplete_model_lacks_a_licence_and_training_data(demo_home: Path) -> None:
    rows = _query(demo_home, PREFIXES + """SELECT ?m WHERE { ?m a mls:Model .
        FILTER NOT EXISTS { ?m dcterms:license ?l } FILTER NOT EXISTS { ?m prov:wasGeneratedBy ?r } }""")
    assert len(rows) == 1


def test_running_the_demo_again_changes_nothing(demo_home: Path) -> None:
    count = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    before = _query(demo_home, count)
    result = CliRunner().invoke(app, ["--home", str(demo_home), "demo", "--no-serve"])
    assert result.exit_code == 0 and "created" not in result.output
    assert _query(demo_home, count) == before
    assert len(_query(demo_home, PREFIXES + "SELECT DISTINCT ?m WHERE { ?m a mls:Model }")) == 4
