"""This machine in the graph: what :mod:`fairkg.kg.environment` detects (CPU, memory, GPUs, driver, CUDA), plus the
runtimes and execution providers that can run models here, each as ``fkg:supportsRuntime`` on the
``fkg:ComputeNode``, e.g. ``"onnxruntime 1.20.1 on cpu (CPUExecutionProvider)"``.

The machine's IRI comes from :func:`fairkg.kg.records.hardware_graph` (stable for the same machine), so training
runs and inference runs on one machine point to one node. The runtimes go in a named graph of their own
(``{machine}/runtimes``): registering a model trained here replaces the machine's description graph, not them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef

from fairkg.kg.cards import Hardware
from fairkg.kg.environment import detect_hardware
from fairkg.kg.namespaces import FKG, RDF, bind_prefixes
from fairkg.kg.records import hardware_graph
from fairkg.kg.store.base import Store
from fairkg.runners.base import Runner
from fairkg.runners.onnx_runner import CPU, CUDA, TENSORRT, OnnxRuntimeRunner
from fairkg.runners.registry import runners as registered_runners
from fairkg.runners.registry import unavailable_runners

__all__ = ["RuntimeInfo", "available_runtimes", "describe_machine", "machine_hardware", "runtime_graph"]


@dataclass(frozen=True)
class RuntimeInfo:
    """One runtime on this machine: its version and devices (empty and ``reason`` set when it cannot run here)."""

    name: str
    version: str | None
    devices: tuple[str, ...]
    formats: tuple[str, ...]
    providers: tuple[str, ...] = ()  # onnxruntime's execution providers
    reason: str | None = None

    @property
    def available(self) -> bool:
        return bool(self.devices)

    def support_labels(self) -> list[str]:
        """One ``fkg:supportsRuntime`` text per device, e.g. ``onnxruntime 1.20.1 on cpu (CPUExecutionProvider)``."""
        labels = []
        for device in self.devices:
            wanted = (CPU,) if device == "cpu" else (TENSORRT, CUDA)
            providers = [p for p in self.providers if p in wanted]
            suffix = f" ({', '.join(providers)})" if providers else ""
            labels.append(f"{self.version or self.name} on {device}{suffix}")
        return labels


def available_runtimes(runners: Mapping[str, Runner] | None = None) -> list[RuntimeInfo]:
    """Every registered runtime, usable or not, fastest first.

    >>> any(info.name == "onnxruntime" and "cpu" in info.devices for info in available_runtimes())
    True
    """
    table = registered_runners() if runners is None else runners
    found = []
    for name, runner in table.items():
        devices = tuple(runner.available_devices())
        providers = tuple(runner.execution_providers()) if isinstance(runner, OnnxRuntimeRunner) else ()
        reason = None
        if not devices:
            version = runner.version()
            reason = f"{name} is not installed" if version is None else f"{version} has no usable device here"
        found.append(RuntimeInfo(name, runner.version(), devices, tuple(runner.formats), providers, reason))
    if runners is None:
        for name, why in unavailable_runners().items():
            found.append(RuntimeInfo(name, None, (), (), reason=why))
    return found


@functools.cache
def machine_hardware() -> Hardware:
    """This machine as :func:`fairkg.kg.environment.detect_hardware` sees it, detected once per process."""
    return detect_hardware()


def runtime_graph(machine: URIRef, runtimes: list[RuntimeInfo]) -> Graph:
    """The ``fkg:supportsRuntime`` triples of ``machine``."""
    graph = bind_prefixes(Graph())
    graph.add((machine, RDF.type, FKG.ComputeNode))
    for info in runtimes:
        for label in info.support_labels():
            graph.add((machine, FKG.supportsRuntime, Literal(label)))
    return graph


def describe_machine(store: Store, *, base_iri: str, runners: Mapping[str, Runner] | None = None) -> URIRef:
    """Describe this machine and the runtimes usable on it in the graph (idempotent) and return its IRI."""
    node, graph = hardware_graph(machine_hardware(), base_iri=base_iri)
    store.replace_graph(node, graph.ntriples())
    store.replace_graph(f"{node}/runtimes", runtime_graph(URIRef(node), available_runtimes(runners)))
    return URIRef(node)
