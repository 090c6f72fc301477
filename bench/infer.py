"""Inference latency and throughput of the digits model through every layer, at 1, 8 and 32 concurrent clients:

* ``onnxruntime``: the bare ``onnxruntime.InferenceSession`` on the registered ONNX file (the floor);
* ``runner``: ``fairkg.runners.load_model(...).predict`` in-process (tensor-spec checks added);
* ``oip_binary``: the Open Inference Protocol over HTTP with Triton's binary tensors, against the real service
  (``create_app`` under uvicorn, as ``fairkg serve`` runs it, in a process of its own: ``bench/_serve.py``);
* ``oip_json``: the same with JSON tensors both ways;
* ``http_floor``: ``GET /v2/health/live`` through the same client and server: what any request to the service costs
  before inference adds anything;
* ``asgi_floor``: ``GET /`` on a minimal raw ASGI app under the same uvicorn (``bench/_serve.py``'s ``minimal``),
  through the same client: what HTTP itself costs here (client, loopback, uvicorn), before any framework.

The client (``--client``, see ``bench/_infer_clients.py``) is by default the cheapest correct one: HTTP/1.1 written
on a keep-alive socket per client thread, encoding and decoding the protocol itself, so that what the numbers show is
the server. ``http.client`` and ``tritonclient`` (Triton's own, whose compatibility ``tests/test_inference_http.py``
checks) are measured beside it at one client (``--also``), as ``CLIENT:PATH``.

At one client every path is measured in the same rounds, one request of each per round in rotating order, so a busy
moment of this shared machine slows all of them alike. A call that comes after other work finds cold caches: the bare
session takes ~0.1-0.2 ms in the rounds against ~0.06 ms called back to back (``onnxruntime_back_to_back``, measured
just before). The overhead is the binary path's p50 minus the bare session's back to back (the stricter reading of
the target; minus the rounds' figure it is ~0.1 ms less). At 8 and 32 clients each path runs on its own (threads, one
connection each). Each client sends one sample per request (batch 1, the latency case; ``--batch`` changes it). The
target: the HTTP path adds at most 1 ms to the bare session's p50 with one client.

Usage::

    python -m bench.infer                  # builds the examples into a temporary home (about two minutes)
    python -m bench.infer --home .fairkg   # reuses a home where `fairkg demo` registered the digits model
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BASE_IRI, console, summarize, table, write_results
from bench._infer_clients import CLIENTS, get_call, infer_call

MODEL_DOI = "10.5072/fairkg.digits-cnn"
LEVELS = (1, 8, 32)
TARGET_OVERHEAD_MS = 1.0
#: packages whose versions explain these numbers (beside bench._common's)
SERVING_PACKAGES = ("onnxruntime", "numpy", "httptools", "uvloop", "h11", "tritonclient", "geventhttpclient")


def prepare_home(home: Path | None) -> tuple[Path, Path | None]:
    """The home to benchmark (built and registered into a temporary one unless given) and what to delete after."""
    if home is not None:
        return home, None
    from fairkg.examples import build_all
    from fairkg.kg.register import register
    from fairkg.kg.settings import Settings
    from fairkg.kg.store import open_store

    scratch = Path(tempfile.mkdtemp(prefix="fairkg-bench-infer-"))
    console.print("building the example models (about two minutes) …")
    folders = build_all(scratch / "build")
    settings = Settings(home=scratch / "home", base_iri=BASE_IRI)
    store = open_store(settings.store_url)
    try:
        for folder in folders:
            if folder.name in ("digits-data", "digits-cnn"):
                register(store, folder, home=settings.home, base_iri=BASE_IRI)
    finally:
        store.close()
    return settings.home, scratch


def drive(call: Callable[[], Any], *, clients: int, requests: int, warmup: int = 20) -> dict[str, Any]:
    """``requests`` calls split over ``clients`` threads (each after ``warmup`` calls of its own): latency statistics
    and throughput (requests per second of wall time)."""
    per_client = max(1, requests // clients)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    ready = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def client(index: int) -> None:
        try:
            for _ in range(warmup):
                call()
            ready.wait()
            own = latencies[index]
            for _ in range(per_client):
                start = time.perf_counter()
                call()
                own.append(time.perf_counter() - start)
        except BaseException as exc:  # reported after the threads join
            errors.append(exc)
            ready.abort()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        raise errors[0] if errors else RuntimeError("a client failed") from None
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    if errors:
        raise errors[0]
    flat = [s for own in latencies for s in own]
    return {**summarize(flat), "clients": clients, "throughput_rps": len(flat) / wall if wall > 0 else 0.0}


def drive_rounds(calls: dict[str, Callable[[], Any]], *, requests: int, warmup: int = 20) -> dict[str, dict[str, Any]]:
    """One client: ``requests`` rounds of one call per path, in an order rotated every round (see the module's
    docstring); per path, latency statistics and throughput (1 / mean latency)."""
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(requests):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            calls[name]()
            seconds[name].append(time.perf_counter() - start)
    return {name: {**summarize(own), "clients": 1, "throughput_rps": len(own) / sum(own)}
            for name, own in seconds.items()}


def bare_session(home: Path, onnx_location: str) -> Callable[[dict[str, np.ndarray]], Any]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(home / onnx_location), providers=["CPUExecutionProvider"])
    return lambda feed: session.run(["logits"], feed)


def serving_stack() -> dict[str, Any]:
    """What uvicorn serves with here: ``http="auto"`` and ``loop="auto"`` (as ``fairkg serve`` and ``bench/_serve.py``
    configure it) take httptools and uvloop when they are installed, else h11 and asyncio."""
    versions = {}
    for name in SERVING_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"http": "httptools" if _importable("httptools") else "h11",
            "loop": "uvloop" if _importable("uvloop") else "asyncio", "packages": versions}


def _importable(name: str) -> bool:
    """Whether ``import name`` works (how uvicorn's "auto" decides)."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def in_process(home: Path, settings: Any, image: np.ndarray) -> tuple[str, dict[str, Callable[[], Any]], Any]:
    """The digits model's IRI, the in-process calls (bare session, runner) and the runner's model (to release)."""
    from fairkg.kg.distributions import inference_record
    from fairkg.kg.identifiers import lookup
    from fairkg.kg.store import open_store
    from fairkg.runners import load_model

    store = open_store(settings.store_url)  # closed before the servers open it
    try:
        model_iri = str(lookup(store, MODEL_DOI, base_iri=settings.base_iri))
        onnx = next(d for d in inference_record(store, model_iri).distributions if d.format == "onnx")
        model = load_model(store, home=home, base_iri=settings.base_iri, model_iri=model_iri, runtime="onnxruntime",
                           device="cpu")
    finally:
        store.close()
    run, feed = bare_session(home, onnx.location), {"image": image}
    return model_iri, {"onnxruntime": lambda: run(feed), "runner": lambda: model.predict(feed)}, model


def http_calls(url: str, floor_url: str, key: str, image: np.ndarray, *, client: str,
               also: list[str]) -> dict[str, Callable[[], Any]]:
    """The HTTP paths, by name, through ``client``, and as ``KIND:PATH`` through each client in ``also``."""
    calls: dict[str, Callable[[], Any]] = {}
    for kind in [client, *(k for k in also if k != client)]:
        prefix = "" if kind == client else f"{kind}:"
        if kind != "tritonclient":  # it only asks the protocol's endpoints
            calls[prefix + "asgi_floor"] = get_call(kind, floor_url, "/")
        calls[prefix + "http_floor"] = get_call(kind, url, "/v2/health/live")
        calls[prefix + "oip_binary"] = infer_call(kind, url, key, image, binary=True)
        calls[prefix + "oip_json"] = infer_call(kind, url, key, image, binary=False)
    return calls


def measure(home: Path, args: argparse.Namespace) -> tuple[dict[str, dict[str, dict[str, Any]]], str]:
    """Every path at every level (see the module's docstring), and how the servers' socket was bound."""
    from bench._serve import Server, shipped_socket_sets_nodelay
    from fairkg.kg.settings import Settings

    settings = Settings(home=home)
    image = np.random.default_rng(0).random((args.batch, 1, 8, 8), dtype=np.float32)
    model_iri, local, model = in_process(home, settings, image)
    results: dict[str, dict[str, dict[str, Any]]] = {
        f"{name}_back_to_back": {"1": drive(call, clients=1, requests=args.requests * 5)}
        for name, call in local.items()}
    socket_mode = "shipped" if shipped_socket_sets_nodelay() else "tcp"
    servers = [Server("fairkg", settings.store_url, home=home, socket_mode=socket_mode,
                      log_file=home / "bench-infer-server.log"),
               Server("minimal", settings.store_url.partition(":")[2], home=home, socket_mode=socket_mode,
                      log_file=home / "bench-infer-minimal.log")]
    try:
        url, floor_url = (server.url() for server in servers)
        remote = http_calls(url, floor_url, model_iri.rsplit("/", 1)[-1], image, client=args.client, also=args.also)
        expected = local["onnxruntime"]()[0]
        for name in (n for n in remote if "oip_" in n):  # every path gives the same numbers
            np.testing.assert_allclose(remote[name](), expected, rtol=1e-6, atol=1e-6)
        results.update({name: {"1": stats} for name, stats in
                        drive_rounds({**local, **remote}, requests=args.requests).items()})
        for name in ("onnxruntime", "runner", "oip_binary", "oip_json"):
            calls = local if name in local else remote
            count = args.requests * (5 if name in local else 1)
            for clients in LEVELS[1:]:
                results[name][str(clients)] = drive(calls[name], clients=clients, requests=count)
    finally:
        for server in servers:
            server.stop()
        model.release()
    return results, socket_mode


def overheads(results: dict[str, Any], client: str, also: list[str]) -> dict[str, dict[str, float]]:
    """Per client: the binary path's p50 over the bare session's, back to back (the target's reading) and in the
    rounds, and over the service's cheapest request."""
    p50 = {name: levels["1"]["p50_ms"] for name, levels in results.items()}
    found = {}
    for kind in [client, *(k for k in also if k != client)]:
        prefix = "" if kind == client else f"{kind}:"
        found[kind] = {"over_bare_session_ms": p50[prefix + "oip_binary"] - p50["onnxruntime_back_to_back"],
                       "over_bare_session_in_rounds_ms": p50[prefix + "oip_binary"] - p50["onnxruntime"],
                       "over_http_floor_ms": p50[prefix + "oip_binary"] - p50[prefix + "http_floor"]}
    return found


def report(results: dict[str, Any], socket_mode: str, args: argparse.Namespace) -> None:
    rows = [(path, c, r["p50_ms"], r["p99_ms"], r["throughput_rps"]) for path, levels in results.items()
            for c, r in levels.items()]
    table(f"digits CNN, batch {args.batch}, client {args.client}: latency (ms) and throughput",
          ("path", "clients", "p50", "p99", "requests/s"), rows)
    found = overheads(results, args.client, args.also)
    overhead = found[args.client]["over_bare_session_ms"]
    verdict = "met" if overhead <= TARGET_OVERHEAD_MS else "missed"
    p50 = {name: levels["1"]["p50_ms"] for name, levels in results.items()}
    console.print(f"HTTP (binary) overhead over the bare session at p50, one client ({args.client}): {overhead:.3f} ms "
                  f"(target <= {TARGET_OVERHEAD_MS} ms: {verdict}); "
                  + "; ".join(f"{kind}: {o['over_bare_session_ms']:.3f} ms" for kind, o in found.items()
                              if kind != args.client)
                  + f". The service's cheapest request costs {p50['http_floor']:.3f} ms, a minimal ASGI app's "
                  f"{p50['asgi_floor']:.3f} ms")
    write_results(args.name, {
        "model": MODEL_DOI, "batch": args.batch, "requests_per_level": args.requests, "levels": list(LEVELS),
        "client": args.client, "also": args.also, "server_socket": socket_mode, "server": serving_stack(),
        "results": results, "http_overhead_p50_ms": overhead, "overheads_p50_ms": found,
        "oip_beyond_http_floor_p50_ms": p50["oip_binary"] - p50["http_floor"],
        "http_floor_beyond_asgi_floor_p50_ms": p50["http_floor"] - p50["asgi_floor"],
        "target_overhead_ms": TARGET_OVERHEAD_MS, "target": verdict,
    })


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.infer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="a home holding the digits model (default: build a temporary one)")
    parser.add_argument("--requests", type=int, default=400, help="timed requests per level and path (bounded)")
    parser.add_argument("--batch", type=int, default=1, help="samples per request")
    parser.add_argument("--client", choices=CLIENTS, default="socket",
                        help="the HTTP client of every HTTP path (default: socket, HTTP/1.1 on a keep-alive socket)")
    parser.add_argument("--also", nargs="*", choices=CLIENTS, default=["http.client", "tritonclient"],
                        help="other clients measured at one client (default: http.client tritonclient; none: --also)")
    parser.add_argument("--name", default="infer", help="results file name under bench/results/")
    args = parser.parse_args(argv)
    home, scratch = prepare_home(args.home)
    try:
        results, socket_mode = measure(home, args)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    report(results, socket_mode, args)


if __name__ == "__main__":
    main()
