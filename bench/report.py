"""Markdown tables of the latest results in bench/results/ (for bench/README.md): ``python -m bench.report``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import RESULTS_DIR, fmt

BACKENDS = ("raw", "kg_store", "minimal_http", "fairkg_http", "fairkg_http_nodelay", "rdflib", "virtuoso_direct",
            "fairkg_store_virtuoso", "fairkg_http_virtuoso", "fairkg_http_virtuoso_nodelay")


def _load(folder: Path, prefix: str) -> list[dict[str, Any]]:
    docs = [json.loads(p.read_text()) | {"_file": p.name} for p in sorted(folder.glob(f"{prefix}*.json"))]
    return sorted(docs, key=lambda d: d["parameters"]["n_models"])


def _machine(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    return (f"{doc['date'][:16].replace('T', ' ')} UTC, {m['cpu_model']}, {m['cpus_usable']} CPUs, "
            f"{m['memory_bytes'] / 2**30:.0f} GiB, load {m.get('load_average', ['?'])[0]}")


def sparql_tables(folder: Path) -> str:
    out = []
    for doc in _load(folder, "sparql"):
        results, n = doc["results"], doc["parameters"]["n_models"]
        queries = list(results)
        names = [b for b in BACKENDS if any(b in cells for cells in results.values())]
        out.append(f"**SPARQL, {n:,} models** (`{doc['_file']}`; {_machine(doc)}; client "
                   f"{doc['parameters'].get('http_client', 'httpx')}). Median ms (p99 in brackets):\n")
        out.append("| backend | " + " | ".join(queries) + " |")
        out.append("| --- |" + " --- |" * len(queries))
        for name in names:
            cells = []
            for q in queries:
                cell = results[q].get(name)
                if cell is None:
                    cells.append("-")
                elif cell["status"] != "ok":
                    cells.append(cell["status"].split(":")[0])
                else:
                    cells.append(f"{fmt(cell['median_ms'])} ({fmt(cell['p99_ms'])})")
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
        out.append("| target | value | met |")
        out.append("| --- | --- | --- |")
        for t in doc["targets"]:
            if t["value"] is not None:
                out.append(f"| {t['ratio']} <= {t['target_at_most']} | {t['value']:.2f} | "
                           f"{'yes' if t['met'] else 'NO'} |")
        out.append("")
    return "\n".join(out)


def register_table(folder: Path) -> str:
    out = ["| run | registered | seconds (wall) | CPU ms / model (p50) | models / s | 10k in < 60 s |",
           "| --- | --- | --- | --- | --- | --- |"]
    for doc in _load(folder, "register"):
        r, s = doc["registered"], doc["seconds"]
        what_if = ", ".join(doc["parameters"].get("what_if") or []) or "as is"
        seconds = fmt(s["total"])
        if r["stopped_early"]:
            seconds += f" (stopped; projected {fmt(s['projected_total_for_n'])} for all)"
        cpu = doc["latency"].get("models_cpu", {}).get("p50_ms")
        target = doc["target"]["met"]
        out.append(f"| `{doc['_file']}`: n={doc['parameters']['n_models']:,}, {what_if} | {r['models']:,} models, "
                   f"{r['datasets']:,} datasets | {seconds} | {fmt(cpu)} | "
                   f"{fmt(doc['throughput']['models_per_second'])} | "
                   f"{'-' if target is None else ('yes' if target else 'NO')} |")
    return "\n".join(out)


def generate_table(folder: Path) -> str:
    out = ["| n | quads | generation s (records/s) | kg.records ms/record: as is / fast path | bulk load s "
           "| store MB |",
           "| --- | --- | --- | --- | --- | --- |"]
    for doc in _load(folder, "generate"):
        g, b, c = doc["generation"], doc["bulk_load"], doc.get("kg_records_comparison") or {}
        gen = "cached" if g.get("cached") else f"{fmt(g['seconds_total'])} ({fmt(g['records_per_second'])})"
        comp = (f"{fmt(c['kg_records_as_is']['ms_per_record'])} / {fmt(c['fast_path']['ms_per_record'])}"
                if c else "-")
        out.append(f"| {doc['parameters']['n_models']:,} | {b['quads']:,} | {gen} | {comp} | {fmt(b['seconds'])} | "
                   f"{fmt(b['store_bytes_on_disk'] / 1e6)} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    folder = Path(argv[0]) if argv else RESULTS_DIR
    print(generate_table(folder), end="\n\n")
    print(register_table(folder), end="\n\n")
    print(sparql_tables(folder))


if __name__ == "__main__":
    main(sys.argv[1:])
