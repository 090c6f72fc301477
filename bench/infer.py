"""Inference latency and throughput of the digits model through every layer, at 1, 8 and 32 concurrent clients:

* ``onnxruntime``: the bare ``onnxruntime.InferenceSession`` on the registered ONNX file (the floor);
* ``runner``: ``fairkg.runners.load_model(...).predict`` in-process (tensor-spec checks added);
* ``oip_binary``: the Open Inference Protocol over HTTP with Triton's binary tensors (``tritonclient.http``, its
  default), against the real service (``create_app`` under uvicorn, in a process of its own: ``bench/_serve.py``);
* ``oip_json``: the same with JSON tensors (``binary_data=False`` both ways);
* ``http_floor``: ``GET /v2/health/live`` through the same client and server (one client): what any request costs
  here before inference adds anything, so the overhead can be split into HTTP itself and the protocol's work.

Each client sends one sample per request (batch 1, the latency case; ``--batch`` changes it) a bounded number of
times after a warm-up; a level's throughput is its requests divided by its wall time. The target: the HTTP path adds at
most 1 ms to the bare session's p50 with one client.

Usage::

    python -m bench.infer                  # builds the examples into a temporary home (about two minutes)
    python -m bench.infer --home .fairkg   # reuses a home where `fairkg demo` registered the digits model
"""

from __future__ import annotations

import argparse
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

MODEL_DOI = "10.5072/fairkg.digits-cnn"
LEVELS = (1, 8, 32)
TARGET_OVERHEAD_MS = 1.0


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


def bare_session(home: Path, onnx_location: str) -> Callable[[dict[str, np.ndarray]], Any]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(home / onnx_location), providers=["CPUExecutionProvider"])
    return lambda feed: session.run(["logits"], feed)


def triton_call(url: str, key: str, image: np.ndarray, *, binary: bool) -> Callable[[], Any]:
    """A call that infers over HTTP with its own tritonclient (one per thread: the client is not thread-safe)."""
    import tritonclient.http as triton

    local = threading.local()

    def call() -> Any:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = triton.InferenceServerClient(url.removeprefix("http://"), network_timeout=60)
        tensor = triton.InferInput("image", list(image.shape), "FP32")
        tensor.set_data_from_numpy(image, binary_data=binary)
        output = triton.InferRequestedOutput("logits", binary_data=binary)
        return client.infer(key, [tensor], outputs=[output]).as_numpy("logits")

    return call


def triton_floor(url: str) -> Callable[[], Any]:
    """The cheapest request the service answers (``GET /v2/health/live``) through the same client: what any HTTP
    request costs on this machine before inference adds anything."""
    import tritonclient.http as triton

    client = triton.InferenceServerClient(url.removeprefix("http://"), network_timeout=60)
    return client.is_server_live


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.infer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="a home holding the digits model (default: build a temporary one)")
    parser.add_argument("--requests", type=int, default=400, help="timed requests per level and path (bounded)")
    parser.add_argument("--batch", type=int, default=1, help="samples per request")
    parser.add_argument("--name", default="infer", help="results file name under bench/results/")
    args = parser.parse_args(argv)

    from bench._serve import Server, shipped_socket_sets_nodelay
    from fairkg.kg.distributions import inference_record
    from fairkg.kg.identifiers import lookup
    from fairkg.kg.settings import Settings
    from fairkg.kg.store import open_store
    from fairkg.runners import load_model

    home, scratch = prepare_home(args.home)
    settings = Settings(home=home)
    image = np.random.default_rng(0).random((args.batch, 1, 8, 8), dtype=np.float32)
    results: dict[str, dict[str, Any]] = {}
    try:
        store = open_store(settings.store_url)  # closed before the server opens it
        try:
            model_iri = str(lookup(store, MODEL_DOI, base_iri=settings.base_iri))
            record = inference_record(store, model_iri)
            onnx = next(d for d in record.distributions if d.format == "onnx")
            run = bare_session(home, onnx.location)
            feed = {"image": image}
            results["onnxruntime"] = {str(c): drive(lambda: run(feed), clients=c, requests=args.requests * 5)
                                      for c in LEVELS}
            model = load_model(store, home=home, base_iri=settings.base_iri, model_iri=model_iri,
                               runtime="onnxruntime", device="cpu")
            try:
                results["runner"] = {str(c): drive(lambda: model.predict(feed), clients=c, requests=args.requests * 5)
                                     for c in LEVELS}
            finally:
                model.release()
        finally:
            store.close()

        socket_mode = "shipped" if shipped_socket_sets_nodelay() else "tcp"
        server = Server("fairkg", settings.store_url, home=home, socket_mode=socket_mode,
                        log_file=home / "bench-infer-server.log")
        try:
            url = server.url()
            key = model_iri.rsplit("/", 1)[-1]
            floor = triton_floor(url)
            results["http_floor"] = {"1": drive(floor, clients=1, requests=args.requests)}
            for name, binary in (("oip_binary", True), ("oip_json", False)):
                call = triton_call(url, key, image, binary=binary)
                np.testing.assert_allclose(call(), run(feed)[0], rtol=1e-6, atol=1e-6)
                results[name] = {str(c): drive(call, clients=c, requests=args.requests) for c in LEVELS}
        finally:
            server.stop()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    overhead = results["oip_binary"]["1"]["p50_ms"] - results["onnxruntime"]["1"]["p50_ms"]
    beyond_floor = results["oip_binary"]["1"]["p50_ms"] - results["http_floor"]["1"]["p50_ms"]
    rows = [(path, c, r["p50_ms"], r["p99_ms"], r["throughput_rps"]) for path, levels in results.items()
            for c, r in levels.items()]
    table(f"digits CNN, batch {args.batch}: latency (ms) and throughput", ("path", "clients", "p50", "p99",
                                                                             "requests/s"), rows)
    verdict = "met" if overhead <= TARGET_OVERHEAD_MS else "missed"
    console.print(f"HTTP (binary) overhead over the bare session at p50, one client: {overhead:.3f} ms "
                  f"(target <= {TARGET_OVERHEAD_MS} ms: {verdict}); of it, {beyond_floor:.3f} ms beyond the cost of "
                  f"the cheapest request ({results['http_floor']['1']['p50_ms']:.3f} ms for GET /v2/health/live)")
    write_results(args.name, {
        "model": MODEL_DOI, "batch": args.batch, "requests_per_level": args.requests, "levels": list(LEVELS),
        "server_socket": socket_mode, "results": results,
        "http_overhead_p50_ms": overhead, "oip_beyond_http_floor_p50_ms": beyond_floor,
        "target_overhead_ms": TARGET_OVERHEAD_MS, "target": verdict,
    })


if __name__ == "__main__":
    main()
