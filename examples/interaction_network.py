"""interaction network: the H->bb vs QCD jet tagger of FAIR4HEP (Moreno et al. 2020), trained on simulated jets.

The architecture, its input layout ([batch, 30, 60] tracks, [batch, 14, 5] secondary vertices, feature-major) and
its parameter names are those of the published model (10.5281/zenodo.7305173), so the two can be compared and the
published weights load into :class:`fairkg.examples.architectures.InteractionNetwork`. The jets here are generated
with a simple physical model (:class:`JetGenerator`), not CMS Open Data. ``build`` writes ``hbb-jets-data`` (the
dataset) and ``interaction-network`` (the model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from fairkg.examples._common import (
    ATTRIBUTION,
    FRAMEWORK,
    MODEL_LICENSE,
    Progress,
    export_model,
    parameter_count,
    predict,
    read_split,
    report,
    torch_threads,
    train,
    write_card,
    write_hdf5,
    write_reference,
)
from fairkg.examples.architectures import InteractionNetwork
from fairkg.kg.cards import DataFile, DatasetCard, Evaluation, ModelCard, Related, TensorSpec
from fairkg.kg.identifiers import mint_doi
from fairkg.kg.provenance import TrainingRecorder, describe_code

DATA_DOI = mint_doi("hbb-jets-data")
MODEL_DOI = mint_doi("interaction-network")
ARCHITECTURE = "fairkg.interaction-network"
PUBLISHED_MODEL_DOI = "10.5281/zenodo.7305173"
PAPER_DOI = "10.1103/PhysRevD.102.012010"
CMS_OPEN_DATA_DOI = "10.7483/OPENDATA.CMS.JGJX.MS7Q"
SEED = 0
SPLIT_SIZES = {"train": 600, "validation": 200, "test": 400}
EPOCHS = 2
BATCH_SIZE = 30
LEARNING_RATE = 2e-3
CLASSES = ("QCD", "Hbb")
TRACK_FEATURES = (
    "track_ptrel_log",  # log(track pT / jet pT)
    "track_erel_log",  # log(track E / jet E)
    "track_etarel",  # eta - jet eta
    "track_phirel",  # phi - jet phi
    "track_deltaR",  # distance to the jet axis in (eta, phi)
    "track_charge",
    "track_dxy_mm",  # transverse impact parameter, lifetime-signed
    "track_dxysig_slog",  # sign(s) log(1 + |s|) of dxy / sigma(dxy)
    "track_dz_mm",
    "track_dzsig_slog",
    "track_sip2d_val_mm",
    "track_sip2d_sig_slog",
    "track_sip3d_val_mm",
    "track_sip3d_sig_slog",
    "track_jet_distance_mm",
    "track_decay_length_log1p_mm",
    "track_normchi2",
    "track_n_pixel_hits",
    "track_n_strip_hits",
    "track_high_purity",
    "track_is_muon",
    "track_is_electron",
    "track_drminsv",  # distance to the nearest secondary vertex direction (0.8 when none)
    "track_from_pv",  # association to the primary vertex, 0 (none) .. 3 (used in its fit)
    "track_pt_error_rel",
    "track_puppi_weight",
    "track_eta_error_mrad",
    "track_phi_error_mrad",
    "track_lost_inner_hits",
    "track_ptrel_axis_log",  # log of the momentum component transverse to the jet axis
)
VERTEX_FEATURES = (
    "sv_ptrel_log",
    "sv_erel_log",
    "sv_etarel",
    "sv_phirel",
    "sv_deltaR",
    "sv_mass_gev",
    "sv_ntracks",
    "sv_normchi2",
    "sv_dxy_log1p_mm",
    "sv_dxysig_log1p",
    "sv_d3d_log1p_mm",
    "sv_d3dsig_log1p",
    "sv_pointing_angle_log1p_mrad",
    "sv_energy_ratio",
)


@dataclass(frozen=True)
class JetGenerator:
    """A simple physical model of boosted jets: H->bb jets hold two displaced b-hadron decays, QCD jets mostly not.

    Lengths in mm unless named otherwise; the b-hadron (charm) impact parameters follow c*tau ~ 0.45 (0.12-0.3) mm.
    """

    max_tracks: int = 60
    max_vertices: int = 5
    hbb_mean_tracks: float = 25.0
    qcd_mean_tracks: float = 20.0
    hbb_b_track_fraction: float = 0.45
    qcd_b_jet_fraction: float = 0.08
    qcd_c_jet_fraction: float = 0.15
    qcd_heavy_track_fraction: float = 0.3
    b_impact_mm: float = 0.35
    c_impact_mm: float = 0.12
    impact_resolution_min_mm: float = 0.015
    impact_resolution_max_mm: float = 0.05
    b_flight_mm: float = 3.0
    c_flight_mm: float = 1.5
    b_vertex_efficiency: float = 0.7
    qcd_heavy_flavour_vertex_efficiency: float = 0.6
    fake_vertex_rate: float = 0.3
    higgs_mass_gev: float = 125.0
    jet_pt_min_gev: float = 400.0
    jet_pt_max_gev: float = 1000.0

    def generate(self, count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``count`` jets, half of each class in random order: tracks [count, 30, 60], vertices [count, 14, 5],
        labels [count] (0 QCD, 1 Hbb); absent tracks and vertices are zero."""
        labels = rng.permutation(np.arange(count) % 2).astype(np.int64)
        hbb = labels[:, None] == 1
        n, m = self.max_tracks, self.max_vertices
        mean_tracks = np.where(labels == 1, self.hbb_mean_tracks, self.qcd_mean_tracks)
        n_tracks = np.clip(rng.poisson(mean_tracks), 3, n)
        present = np.arange(n)[None, :] < n_tracks[:, None]

        # origin of each track: 0 prompt, 1 charm decay, 2 b-hadron decay
        u = rng.uniform(size=(count, n))
        origin = np.where(hbb, np.where(u < self.hbb_b_track_fraction, 2, 0), 0)
        flavour = rng.uniform(size=(count, 1))  # QCD jets from b (c) quarks hold some b (c) decay tracks
        qcd_b = (flavour < self.qcd_b_jet_fraction) & (u < self.qcd_heavy_track_fraction)
        qcd_c = (flavour >= self.qcd_b_jet_fraction) & (flavour < self.qcd_b_jet_fraction + self.qcd_c_jet_fraction)
        qcd_c = qcd_c & (u < self.qcd_heavy_track_fraction)
        origin = np.where(~hbb & qcd_b, 2, np.where(~hbb & qcd_c, 1, origin))
        b, c, prompt = origin == 2, origin == 1, origin == 0

        # kinematics: H->bb is two-pronged (subjets dR ~ 2 m_H / pT apart), QCD one core with a soft wide part
        jet_pt = rng.uniform(self.jet_pt_min_gev, self.jet_pt_max_gev, size=count)
        separation = np.where(labels == 1, 2 * self.higgs_mass_gev / jet_pt, rng.uniform(0.1, 0.4, size=count))
        direction = rng.uniform(0, 2 * np.pi, size=count)
        half = np.stack([np.cos(direction), np.sin(direction)], axis=1) * separation[:, None] / 2
        prong = rng.integers(0, 2, size=(count, n))  # which subjet a track belongs to
        qcd_soft = rng.uniform(size=(count, n)) < 0.2
        in_second = np.where(hbb, prong == 1, qcd_soft)
        axis = np.where(in_second[..., None], -half[:, None, :], half[:, None, :])
        axis = np.where(hbb[..., None], axis, np.where(in_second[..., None], axis - half[:, None, :], 0.0))
        weight = rng.exponential(size=(count, n)) ** 1.5 * present
        z = weight / weight.sum(axis=1, keepdims=True)
        z = np.where(present, np.maximum(z, 1e-6), 1.0)
        spread = np.minimum(0.015 / np.sqrt(z), 0.3)
        eta = axis[..., 0] + rng.normal(size=(count, n)) * spread
        phi = axis[..., 1] + rng.normal(size=(count, n)) * spread
        delta_r = np.hypot(eta, phi)

        # impact parameters: lifetime-signed, mostly positive for heavy-flavour decays
        sigma = rng.uniform(self.impact_resolution_min_mm, self.impact_resolution_max_mm, size=(count, n))
        sign = np.where(rng.uniform(size=(count, n)) < np.where(b, 0.85, 0.75), 1.0, -1.0)
        true_ip = np.where(b, rng.exponential(self.b_impact_mm, size=(count, n)), 0.0)
        true_ip = np.where(c, rng.exponential(self.c_impact_mm, size=(count, n)), true_ip) * sign
        tails = 1 + 4 * (rng.uniform(size=(count, n)) < 0.03)
        dxy = true_ip + rng.normal(size=(count, n)) * sigma * tails
        dz = true_ip * rng.normal(1.0, 0.3, size=(count, n)) + rng.normal(size=(count, n)) * 1.5 * sigma * tails
        ip3d = np.sign(dxy) * np.hypot(dxy, dz)
        flight = np.where(b, rng.exponential(self.b_flight_mm, size=(count, n)), np.abs(rng.normal(0, 0.1, (count, n))))
        flight = np.where(c, rng.exponential(self.c_flight_mm, size=(count, n)), flight)
        displaced = ~prompt

        # secondary vertices: one per reconstructed heavy-flavour decay, plus fakes; kind 2 b, 1 charm, 0 fake
        vertex_kind = np.full((count, m), -1)
        vertex_axis = np.zeros((count, m, 2))
        has_b = b.any(axis=1)
        first_b = (
            rng.uniform(size=count)
            < np.where(labels == 1, self.b_vertex_efficiency, self.qcd_heavy_flavour_vertex_efficiency) * has_b
        )
        second_b = (labels == 1) & (rng.uniform(size=count) < self.b_vertex_efficiency)
        charm = ~has_b & c.any(axis=1) & (rng.uniform(size=count) < 0.4)
        vertex_kind[:, 0] = np.where(first_b, 2, np.where(charm, 1, -1))
        vertex_axis[:, 0] = np.where(labels[:, None] == 1, half, 0.0)
        vertex_kind[:, 1] = np.where(second_b, 2, -1)
        vertex_axis[:, 1] = -half
        fakes = np.minimum(rng.poisson(self.fake_vertex_rate, size=count), m - 2)
        for slot in range(2, m):
            vertex_kind[:, slot] = np.where(slot - 2 < fakes, 0, -1)
            vertex_axis[:, slot] = rng.normal(0, 0.15, size=(count, 2))
        real = vertex_kind >= 0
        kind_b, kind_c = vertex_kind == 2, vertex_kind == 1
        sv_fraction = np.where(
            kind_b,
            rng.uniform(0.15, 0.5, (count, m)),
            np.where(kind_c, rng.uniform(0.05, 0.25, (count, m)), rng.uniform(0.005, 0.08, (count, m))),
        )
        sv_eta = vertex_axis[..., 0] + rng.normal(0, 0.01, (count, m))
        sv_phi = vertex_axis[..., 1] + rng.normal(0, 0.01, (count, m))
        sv_mass = np.where(
            kind_b,
            np.clip(rng.normal(2.8, 0.9, (count, m)), 0.6, 6.0),
            np.where(
                kind_c, np.clip(rng.normal(1.4, 0.4, (count, m)), 0.4, 2.5), 0.3 + rng.exponential(0.5, (count, m))
            ),
        )
        sv_ntracks = 2 + rng.poisson(np.where(kind_b, 2.0, np.where(kind_c, 1.0, 0.2)))
        sv_dxy = rng.exponential(np.where(kind_b, self.b_flight_mm, np.where(kind_c, self.c_flight_mm, 0.3)))
        sv_sigma = rng.uniform(0.05, 0.2, (count, m))
        sv_d3d = sv_dxy * rng.uniform(1.0, 1.5, (count, m))
        sv_angle = rng.exponential(np.where(kind_b, 3.0, np.where(kind_c, 8.0, 40.0)))
        vertex_values = np.stack(
            [
                np.log(sv_fraction),
                np.log(sv_fraction) + rng.normal(0, 0.05, (count, m)),
                sv_eta,
                sv_phi,
                np.hypot(sv_eta, sv_phi),
                sv_mass,
                sv_ntracks,
                rng.gamma(2.0, 0.5, (count, m)),
                np.log1p(sv_dxy),
                np.log1p(sv_dxy / sv_sigma),
                np.log1p(sv_d3d),
                np.log1p(sv_d3d / sv_sigma),
                np.log1p(sv_angle),
                sv_fraction * rng.uniform(0.8, 1.2, (count, m)),
            ],
            axis=1,
        )  # [count, 14, m]
        # present vertices first, most significant first; absent ones zero
        order = np.argsort(np.where(real, -vertex_values[:, 9], np.inf), axis=1, kind="stable")
        vertex_values = np.take_along_axis(vertex_values, order[:, None, :], axis=2)
        real = np.take_along_axis(real, order, axis=1)
        vertices = vertex_values * real[:, None, :]
        sv_dirs = np.take_along_axis(np.stack([sv_eta, sv_phi], axis=2), order[..., None], axis=1)
        to_sv = np.hypot(eta[..., None] - sv_dirs[:, None, :, 0], phi[..., None] - sv_dirs[:, None, :, 1])
        drminsv = np.minimum(np.where(real[:, None, :], to_sv, np.inf).min(axis=2), 0.8)

        def slog(x: np.ndarray) -> np.ndarray:
            return np.sign(x) * np.log1p(np.abs(x))

        pv_weights = np.where(
            prompt[..., None],
            [0.0, 0.0, 0.05, 0.95],
            np.where(b[..., None], [0.4, 0.3, 0.2, 0.1], [0.2, 0.3, 0.3, 0.2]),
        )
        from_pv = (rng.uniform(size=(count, n, 1)) > np.cumsum(pv_weights, axis=2)).sum(axis=2)
        lepton = np.where(b, 0.06, 0.005)
        track_values = np.stack(
            [
                np.log(z),
                np.log(z) + rng.normal(0, 0.05, (count, n)),
                eta,
                phi,
                delta_r,
                np.where(rng.uniform(size=(count, n)) < 0.5, 1.0, -1.0),
                dxy,
                slog(dxy / sigma),
                dz,
                slog(dz / (1.5 * sigma)),
                dxy,
                slog(dxy / sigma),
                ip3d,
                slog(ip3d / (1.8 * sigma)),
                np.abs(rng.normal(0, 0.05, (count, n))) * np.where(displaced, 0.5, 1.0),
                np.log1p(flight),
                rng.gamma(2.0, 0.5, (count, n)),
                1 + rng.poisson(np.where(b, 2.5, 3.5)),
                rng.poisson(10.0, (count, n)),
                (rng.uniform(size=(count, n)) < 0.95).astype(float),
                (rng.uniform(size=(count, n)) < lepton).astype(float),
                (rng.uniform(size=(count, n)) < lepton).astype(float),
                drminsv,
                from_pv,
                rng.uniform(0.005, 0.05, (count, n)),
                np.where(prompt, rng.uniform(0.9, 1.0, (count, n)), rng.uniform(0.6, 1.0, (count, n))),
                rng.uniform(0.5, 3.0, (count, n)),
                rng.uniform(0.5, 3.0, (count, n)),
                (rng.uniform(size=(count, n)) < np.where(b, 0.2, 0.02)).astype(float),
                np.log(z * np.maximum(delta_r, 1e-3)),
            ],
            axis=1,
        )  # [count, 30, n]
        # tracks ordered by momentum, hardest first (as CMS orders particle-flow candidates); absent ones zero
        order = np.argsort(np.where(present, -z, np.inf), axis=1, kind="stable")
        track_values = np.take_along_axis(track_values, order[:, None, :], axis=2)
        tracks = track_values * np.take_along_axis(present, order, axis=1)[:, None, :]
        return {
            "tracks": tracks.astype(np.float32),
            "vertices": vertices.astype(np.float32),
            "labels": labels,
        }


def jet_splits(generator: JetGenerator, *, seed: int = SEED) -> dict[str, dict[str, np.ndarray]]:
    """Train, validation and test jets, each split from its own seeded stream."""
    streams = np.random.SeedSequence(seed).spawn(len(SPLIT_SIZES))
    return {
        split: generator.generate(count, np.random.default_rng(stream))
        for (split, count), stream in zip(SPLIT_SIZES.items(), streams, strict=True)
    }


def roc_auc(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """ROC AUC of the H->bb score (softmax probability of class 1)."""
    score = torch.softmax(logits, dim=1)[:, 1]
    return float(roc_auc_score(labels.numpy(), score.numpy()))


def _feature_list(names: tuple[str, ...]) -> str:
    return ", ".join(f"{i} {name}" for i, name in enumerate(names))


def _dataset_card(generator: JetGenerator) -> DatasetCard:
    settings = ", ".join(f"{k}={v}" for k, v in asdict(generator).items())
    return DatasetCard(
        kind="dataset",
        doi=DATA_DOI,
        title="Simulated boosted jets: H->bb and QCD (tracks and secondary vertices)",
        description=(
            "Simulated large-radius jets for H->bb vs QCD tagging, in the input format of the FAIR4HEP interaction "
            "network: per jet up to 60 charged tracks with 30 features and up to 5 secondary vertices with 14 "
            "features, feature-major and zero-padded, with the class label (0 QCD, 1 H->bb). Generated by "
            "fairkg.examples.interaction_network with a simple physical model, not a detector simulation: a "
            "stand-in for the CMS Open Data the published model was trained on."
        ),
        license="CC-BY-4.0",
        keywords=["jet tagging", "H->bb", "particle physics", "simulated data", "graph neural network", "CMS"],
        related=[Related(relation="References", identifier=CMS_OPEN_DATA_DOI)],
        files=[
            DataFile(
                path="hbb_jets.h5",
                description=(
                    "HDF5: /<split>/tracks float32 [N,30,60], /<split>/vertices float32 [N,14,5], /<split>/labels "
                    "int64 [N] (0 QCD, 1 Hbb); attributes track_features and vertex_features name the rows"
                ),
                splits=list(SPLIT_SIZES),
            )
        ],
        provenance=(
            "Balanced classes. H->bb jets are two-pronged (subjets 2 m_H / pT apart in eta-phi, pT uniform in "
            "400-1000 GeV) and about 45% of their tracks come from b-hadron decays: lifetime-signed impact "
            "parameters (exponential, mean 0.35 mm), longer flight, and up to two secondary vertices with b-hadron "
            "masses. QCD jets have one core with a soft wide part and prompt tracks, except that 8% (15%) of them "
            "come from b (charm) quarks and hold some b-hadron (charm) decay tracks, and mostly fake low-mass "
            "vertices. Track counts are Poisson (mean 25 and 20), tracks ordered by "
            "momentum, vertices by flight significance. numpy default_rng from SeedSequence"
            f"({SEED}), one stream per split. Parameters: {settings}."
        ),
        record_count=sum(SPLIT_SIZES.values()),
        features=(
            f"tracks [30, 60], rows: {_feature_list(TRACK_FEATURES)}. vertices [14, 5], rows: "
            f"{_feature_list(VERTEX_FEATURES)}. slog(x) = sign(x) log(1 + |x|). labels: 0 QCD, 1 Hbb."
        ),
        **ATTRIBUTION,
    )


def build(out_dir: Path, *, progress: Progress | None = None) -> list[Path]:
    """Write the simulated jets and the trained interaction network as card folders; returns them, dataset first."""
    data_dir, model_dir = out_dir / "hbb-jets-data", out_dir / "interaction-network"
    generator = JetGenerator()
    data_path = write_hdf5(
        data_dir / "hbb_jets.h5",
        jet_splits(generator),
        attrs={
            "title": "Simulated boosted jets: H->bb and QCD (tracks and secondary vertices)",
            "generator": "fairkg.examples.interaction_network.JetGenerator",
            "seed": SEED,
            "license": "CC-BY-4.0",
            "classes": list(CLASSES),
            "track_features": list(TRACK_FEATURES),
            "vertex_features": list(VERTEX_FEATURES),
            **asdict(generator),
        },
        descriptions={
            "tracks": "30 track features x 60 tracks (feature-major), hardest first, zero-padded",
            "vertices": "14 features x 5 secondary vertices (feature-major), most significant first, zero-padded",
            "labels": "0 QCD, 1 H->bb",
        },
    )
    write_card(data_dir, _dataset_card(generator))
    report(progress, "interaction network: data", 1, 1)

    train_set, validation, test = (read_split(data_path, s) for s in ("train", "validation", "test"))
    recorder = TrainingRecorder(code=describe_code(build))
    recorder.use_dataset(DATA_DOI, path=data_path)
    recorder.preprocessing("features pre-scaled by the generator (logarithms, signed logarithms; see the dataset)")
    recorder.preprocessing("training on the 'train' split; per-epoch metrics on the 'validation' split")

    def auc(model: torch.nn.Module, split: dict[str, torch.Tensor]) -> float:
        return roc_auc(predict(model, [split["tracks"], split["vertices"]], batch_size=100), split["labels"])

    with torch_threads():
        torch.manual_seed(SEED)
        model = InteractionNetwork()
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        train(
            model,
            [train_set["tracks"], train_set["vertices"]],
            train_set["labels"],
            recorder=recorder,
            optimizer=optimizer,
            loss_fn=torch.nn.CrossEntropyLoss(),
            epochs=EPOCHS,
            batch_size=BATCH_SIZE,
            seed=SEED,
            validate=lambda m: {"val_roc_auc": auc(m, validation)},
            extra={"architecture": ARCHITECTURE, "hidden": 60, "De": 20, "Do": 24},
            progress=progress,
            stage="interaction network: training",
        )
        test_auc = auc(model, test)
        example = {"tracks": test["tracks"][:2], "vertices": test["vertices"][:2]}
        distributions = export_model(model, example, ["logits"], model_dir, architecture=ARCHITECTURE)
        reference_inputs = {"tracks": test["tracks"][:4], "vertices": test["vertices"][:4]}
        reference = write_reference(model, reference_inputs, "logits", model_dir)
    report(progress, "interaction network: export", 1, 1)

    card = ModelCard(
        kind="model",
        doi=MODEL_DOI,
        title="Interaction network H->bb jet tagger (trained on simulated jets)",
        description=(
            "The interaction network of Moreno et al. (Phys. Rev. D 102, 012010, 2020) as published by FAIR4HEP: "
            "track-track and track-vertex edge MLPs (hidden 60, De = 20), a node MLP (Do = 24), a sum over "
            f"tracks and a linear classifier ({parameter_count(model)} parameters, the published baseline's "
            "architecture, parameter names and input layout). It tells jets from H->bb decays from QCD jets. "
            "Trained by fairkg on simulated jets; training provenance was captured automatically while it trained."
        ),
        license=MODEL_LICENSE,
        keywords=["jet tagging", "H->bb", "interaction network", "graph neural network", "particle physics"],
        related=[
            Related(relation="IsDerivedFrom", identifier=PUBLISHED_MODEL_DOI),
            Related(relation="Cites", identifier=PAPER_DOI),
        ],
        task="binary classification: jet tagging",
        framework=FRAMEWORK,
        inputs=[
            TensorSpec(
                name="tracks",
                dtype="float32",
                shape=["batch", 30, 60],
                description=(
                    "30 features (rows) of up to 60 charged tracks (columns), feature-major as in the published "
                    "model's input_cpf, hardest track first, absent tracks zero; features as in the dataset card"
                ),
            ),
            TensorSpec(
                name="vertices",
                dtype="float32",
                shape=["batch", 14, 5],
                description=(
                    "14 features (rows) of up to 5 secondary vertices (columns), feature-major as in the published "
                    "model's input_sv, most significant first, absent vertices zero"
                ),
            ),
        ],
        outputs=[
            TensorSpec(
                name="logits",
                dtype="float32",
                shape=["batch", 2],
                description="unnormalised scores for [QCD, Hbb]; softmax gives the class probabilities",
                semantics="logits",
            )
        ],
        distributions=distributions,
        reference=reference,
        training=recorder.result(),
        evaluations=[Evaluation(metric="roc_auc", value=test_auc, dataset=DATA_DOI, split="test")],
        usage=(
            "Feed `tracks` float32 [batch, 30, 60] and `vertices` float32 [batch, 14, 5], features in rows, "
            "zero-padded. The output `logits` [batch, 2] is for [QCD, Hbb]: softmax(logits)[:, 1] is the H->bb "
            "score (the published ONNX model outputs this softmax directly). ONNX: onnxruntime.InferenceSession("
            "'model.onnx').run(['logits'], {'tracks': t, 'vertices': v}); PyTorch: "
            "torch.export.load('model.pt2').module()(t, v)."
        ),
        intended_use="Demonstrating FAIR model publication and comparison with the published FAIR4HEP model.",
        limitations=(
            "Trained for two epochs on 600 jets from a toy physical model, not on CMS simulation: its "
            "scores mean nothing for real CMS jets, and its features only imitate the published model's "
            "(same layout, different definitions). For physics use the published model (10.5281/zenodo.7305173)."
        ),
        **ATTRIBUTION,
    )
    write_card(model_dir, card)
    return [data_dir, model_dir]
