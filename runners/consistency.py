"""Consistency: the model's reference input through every runtime, device and distribution available here, compared
with the recorded reference output and with each other, recorded as evidence on the model.

The reference example is a safetensors file (``input.<name>``, ``output.<name>``), read with safetensors.numpy:
nothing is unpickled. Every artifact is checksum-verified before it is loaded, the reference file included. Each
run gets the largest absolute deviation from the reference and the L2 norm of the difference (over all outputs);
a run deviating by more than the declared tolerance is flagged (``fkg:withinTolerance false``), and so is one that
fails to load or run. The evidence graph is described in :mod:`fairkg.kg.consistency`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from fairkg.kg.artifacts import verified_path
from fairkg.kg.consistency import ConsistencyEvidence, PairDeviation, RunDeviation, record_consistency
from fairkg.kg.distributions import InferenceRecord, ReferenceRecord, inference_record
from fairkg.kg.errors import ArtifactError
from fairkg.kg.store.base import Store
from fairkg.runners.base import ModelSpec, Runner
from fairkg.runners.dispatch import Option, Selection, load_selection, options
from fairkg.runners.errors import ChecksumError, InputError, RunnerError, WithdrawnModelError
from fairkg.runners.hardware import describe_machine
from fairkg.runners.inputs import check_inputs

__all__ = ["ConsistencyReport", "check_model", "deviation", "read_reference"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsistencyReport:
    """The result of :func:`check_model`: one run per runtime, device and distribution, pairwise deviations, what
    could not run here, and the IRI of the evidence recorded in the graph."""

    evidence: ConsistencyEvidence
    evidence_iri: str

    @property
    def model_iri(self) -> str:
        return self.evidence.model_iri

    @property
    def tolerance(self) -> float:
        return self.evidence.tolerance

    @property
    def runs(self) -> tuple[RunDeviation, ...]:
        return self.evidence.runs

    @property
    def pairs(self) -> tuple[PairDeviation, ...]:
        return self.evidence.pairs

    @property
    def skipped(self) -> tuple[tuple[str, str], ...]:
        return self.evidence.skipped

    @property
    def within_tolerance(self) -> bool:
        """True when something ran and every run reproduced the reference output within the tolerance."""
        return self.evidence.within_tolerance


def read_reference(home: Path, reference: ReferenceRecord) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The reference inputs and expected outputs (name -> array), after verifying the file's SHA-256.

    Raises:
        ChecksumError: the file is missing or does not match.
    """
    from safetensors.numpy import load_file

    try:
        path = verified_path(home, reference.location, reference.sha256)
    except ArtifactError as exc:
        raise ChecksumError(f"the reference example {reference.iri} was refused: {exc}") from exc
    tensors = load_file(path)
    inputs = {k.removeprefix("input."): v for k, v in tensors.items() if k.startswith("input.")}
    outputs = {k.removeprefix("output."): v for k, v in tensors.items() if k.startswith("output.")}
    return inputs, outputs


def deviation(got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray]) -> tuple[float, float]:
    """The largest absolute difference and the L2 norm of the difference, over every output ``want`` names.

    >>> deviation({"y": np.array([1.0, 2.0])}, {"y": np.array([1.0, 2.5])})
    (0.5, 0.5)
    """
    largest, squares = 0.0, 0.0
    for name, expected in want.items():
        if name not in got:
            raise ValueError(f"the run gave no output {name!r} (it gave {', '.join(got) or 'none'})")
        if np.shape(got[name]) != np.shape(expected):
            raise ValueError(f"output {name!r} has shape {list(np.shape(got[name]))}, "
                             f"expected {list(np.shape(expected))}")
        diff = np.asarray(got[name], dtype=np.float64) - np.asarray(expected, dtype=np.float64)
        if diff.size:
            largest = max(largest, float(np.max(np.abs(diff))))
            squares += float(np.sum(diff * diff))
    return largest, float(np.sqrt(squares))


def _run_one(store: Store, record: InferenceRecord, option: Option, inputs: dict[str, np.ndarray],
             expected: dict[str, np.ndarray], tolerance: float, *, home: Path, base_iri: str,
             runners: Mapping[str, Runner] | None) -> tuple[RunDeviation, dict[str, np.ndarray] | None]:
    started = datetime.now(UTC)
    selection = Selection(record, option.runtime, option.device, option.distribution, option.build,
                          requested=True, options=(option,))
    version = None
    try:
        model = load_selection(store, selection, home=home, base_iri=base_iri, runners=runners)
        version = model.runtime_version
        try:
            got = model.predict(inputs)
        finally:
            model.release()
        largest, l2 = deviation(got, expected)
    except (RunnerError, ValueError) as exc:
        log.warning("consistency: %s failed: %s", option.describe(), exc)
        run = RunDeviation(option.runtime, version, option.device, option.distribution.format,
                           option.distribution.iri, started, datetime.now(UTC), None, None, False, error=str(exc))
        return run, None
    run = RunDeviation(option.runtime, version, option.device, option.distribution.format, option.distribution.iri,
                       started, datetime.now(UTC), largest, l2, bool(largest <= tolerance))
    return run, got


def check_model(store: Store, *, home: Path, base_iri: str, model_iri: str,
                runners: Mapping[str, Runner] | None = None, record_evidence: bool = True) -> ConsistencyReport:
    """Run the reference input of ``model_iri`` through every runtime, device and distribution available here.

    Args:
        runners: runtime name -> runner (default: every registered runner).
        record_evidence: write the result into the graph (the model's consistency graph, replaced).

    Raises:
        NotFoundError: no registered model has that IRI.
        WithdrawnModelError: the model was withdrawn.
        RunnerError: the model has no reference example.
        ChecksumError: the reference file is missing or does not match its SHA-256.
        InputError: the reference inputs do not match the model's tensor specs.
    """
    record = inference_record(store, model_iri)
    if record.withdrawn:
        raise WithdrawnModelError(f"{record.title} ({model_iri}) was withdrawn: its files were removed")
    if record.reference is None:
        raise RunnerError(f"{record.title} has no reference example (fkg:referenceExample) to check against: add a "
                          "reference input and output (card field `reference`)")
    inputs, expected = read_reference(home, record.reference)
    spec = ModelSpec.from_record(record)
    try:
        check_inputs(spec.inputs, inputs)
    except InputError as exc:
        raise InputError(f"the reference example does not fit the model: {exc}", expected=exc.expected,
                         given=exc.given, problems=exc.problems) from exc
    started = datetime.now(UTC)
    found, unavailable = options(record, home=home, runners=runners)
    runs: list[RunDeviation] = []
    outputs: dict[str, dict[str, np.ndarray]] = {}
    for option in found:
        if not option.available:
            continue
        run, got = _run_one(store, record, option, inputs, expected, record.reference.tolerance, home=home,
                            base_iri=base_iri, runners=runners)
        runs.append(run)
        if got is not None:
            outputs[run.label] = got
    pairs = tuple(PairDeviation(a, b, *deviation(outputs[a], outputs[b]))
                  for a, b in itertools.combinations(outputs, 2))
    skipped = [(f"{o.runtime}/{o.distribution.format}/{o.device}", o.reason or "") for o in found
               if not o.available]
    skipped += [(name, reason) for name, reason in unavailable.items()]
    machine = describe_machine(store, base_iri=base_iri, runners=runners) if record_evidence else None
    evidence = ConsistencyEvidence(
        model_iri=model_iri, reference_iri=record.reference.iri, tolerance=record.reference.tolerance,
        started=started, ended=datetime.now(UTC), runs=tuple(runs), pairs=pairs,
        machine_iri=str(machine) if machine else None, skipped=tuple(skipped),
    )
    iri = record_consistency(store, evidence, base_iri=base_iri) if record_evidence else ""
    return ConsistencyReport(evidence, str(iri))
