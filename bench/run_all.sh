#!/bin/sh
# The full set of runs behind the results table of bench/README.md: hours on 2 shared cores (the 100k registry
# alone takes ~30-60 min to generate the first time; it is cached in bench/.cache/ afterwards).
set -ex
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
$PY -m bench.generate --quick --name generate-1k
$PY -m bench.sparql --quick --name sparql-1k
$PY -m bench.register --quick --name register-1k
$PY -m bench.register --n 10000 --time-limit 300 --profile 30 --name register-10k
$PY -m bench.register --n 10000 --batched --profile 0 --name register-10k-batched
$PY -m bench.generate --n 10000 --name generate-10k
$PY -m bench.sparql --n 10000 --name sparql-10k
$PY -m bench.generate --n 100000 --name generate-100k
$PY -m bench.sparql --n 100000 --name sparql-100k
