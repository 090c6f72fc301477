"""fairkg's benchmarks (never run as tests): see bench/README.md. Run them as modules, e.g.
``python -m bench.sparql --quick``; each writes ``bench/results/<name>.json``."""
