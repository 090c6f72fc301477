"""The example models' architectures, and the table of names that model cards use to rebuild them from weights.

A safetensors distribution names its architecture (``architecture: fairkg.digits-cnn``); the PyTorch runner builds
``ARCHITECTURES[name]()`` and loads the weights with ``strict=True``. Only architectures in this table are built:
a record never names code to import. The constructors take no arguments: the defaults are the trained settings.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (the usual spelling)

__all__ = ["ARCHITECTURES", "BraggNN", "DigitsCNN", "InteractionNetwork", "NonLocalBlock"]


class DigitsCNN(nn.Module):
    """A small CNN for 8x8 grey-level digits: two 3x3 convolutions, max-pooling, two linear layers.

    Input ``image`` [batch, 1, 8, 8], pixel intensities in 0..1; output ``logits`` [batch, 10] for digits 0-9.
    """

    def __init__(self, channels: tuple[int, int] = (16, 32), hidden: int = 64, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels[0], kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels[0], channels[1], kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(channels[1] * 4 * 4, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(image))
        x = self.pool(F.relu(self.conv2(x)))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


class NonLocalBlock(nn.Module):
    """BraggNN's non-local (self-attention) block: every position attends to every other, plus a residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.inner = channels // 2
        self.theta = nn.Conv2d(channels, self.inner, kernel_size=1)
        self.phi = nn.Conv2d(channels, self.inner, kernel_size=1)
        self.g = nn.Conv2d(channels, self.inner, kernel_size=1)
        self.out = nn.Conv2d(self.inner, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        theta = self.theta(x).flatten(2).transpose(1, 2)  # [batch, positions, inner]
        phi = self.phi(x).flatten(2)  # [batch, inner, positions]
        g = self.g(x).flatten(2).transpose(1, 2)
        attention = torch.softmax(torch.bmm(theta, phi), dim=-1)
        y = torch.bmm(attention, g).transpose(1, 2).reshape(x.shape[0], self.inner, x.shape[2], x.shape[3])
        return x + self.out(y)


class BraggNN(nn.Module):
    """BraggNN (Liu et al., IUCrJ 9, 104-113, 2022): locate a Bragg peak's centre in an 11x11 patch.

    Convolutions 1->64 (with a non-local block) ->32->8, then fully connected 200->64->32->16->8->2, LeakyReLU.
    Input ``patch`` [batch, 1, 11, 11], min-max normalised per patch; output ``centre`` [batch, 2]: row and column
    of the peak centre in pixels of the patch, (0, 0) the centre of the top-left pixel (not normalised).
    """

    def __init__(self, patch_size: int = 11, channels: tuple[int, int, int] = (64, 32, 8)) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.conv1 = nn.Conv2d(1, channels[0], kernel_size=3)
        self.nlb = NonLocalBlock(channels[0])
        self.conv2 = nn.Conv2d(channels[0], channels[1], kernel_size=3)
        self.conv3 = nn.Conv2d(channels[1], channels[2], kernel_size=3)
        side = patch_size - 6
        widths = (channels[2] * side * side, 64, 32, 16, 8)
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.head = nn.Linear(widths[-1], 2)

    def forward(self, patch: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.nlb(self.conv1(patch)), 0.01)
        x = F.leaky_relu(self.conv2(x), 0.01)
        x = F.leaky_relu(self.conv3(x), 0.01)
        x = torch.flatten(x, 1)
        for layer in self.dense:
            x = F.leaky_relu(layer(x), 0.01)
        # predict the offset from the patch's middle pixel, so an untrained net starts at the middle
        return self.head(x) + (self.patch_size - 1) / 2


class InteractionNetwork(nn.Module):
    """The H->bb interaction network (Moreno et al., Phys. Rev. D 102, 012010, 2020), FAIR4HEP's ``GraphNet``.

    Inputs are feature-major and zero-padded, as in the published model: ``tracks`` [batch, 30, 60] (30 features
    of up to 60 tracks) and ``vertices`` [batch, 14, 5] (14 features of up to 5 secondary vertices). Output
    ``logits`` [batch, 2] for [QCD, H->bb]. Parameter names and shapes are those of the published
    ``gnn_baseline_best.pth``, and the arithmetic is the same: its weights load here and give the same outputs.

    The published code multiplies by dense receiver/sender matrices (60 x 3540); here the same sums are gathers
    and reshapes, and the first edge layer is applied per node before gathering (a linear layer on a
    concatenation is the sum of linear layers on its parts), which trains several times faster on a CPU.
    """

    def __init__(
        self,
        tracks: int = 60,
        track_features: int = 30,
        vertices: int = 5,
        vertex_features: int = 14,
        hidden: int = 60,
        de: int = 20,
        do: int = 24,
        classes: int = 2,
    ) -> None:
        super().__init__()
        self.n, self.p, self.nv, self.s = tracks, track_features, vertices, vertex_features
        self.de, self.do = de, do
        self.fr1 = nn.Linear(2 * track_features, hidden)
        self.fr2 = nn.Linear(hidden, hidden)
        self.fr3 = nn.Linear(hidden, de)
        self.fr1_pv = nn.Linear(track_features + vertex_features, hidden)
        self.fr2_pv = nn.Linear(hidden, hidden)
        self.fr3_pv = nn.Linear(hidden, de)
        self.fo1 = nn.Linear(track_features + 2 * de, hidden)
        self.fo2 = nn.Linear(hidden, hidden)
        self.fo3 = nn.Linear(hidden, do)
        self.fc_fixed = nn.Linear(do, classes)
        # track-track edges in the published order: receiver-major, every (receiver, sender) with sender != receiver
        receivers = [r for r in range(tracks) for s in range(tracks) if r != s]
        senders = [s for r in range(tracks) for s in range(tracks) if r != s]
        self.register_buffer("receivers", torch.tensor(receivers), persistent=False)
        self.register_buffer("senders", torch.tensor(senders), persistent=False)

    def forward(self, tracks: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
        x = tracks.transpose(1, 2)  # [batch, N, P]
        y = vertices.transpose(1, 2)  # [batch, Nv, S]
        batch = x.shape[0]

        # track-track edges: fr1(cat(x_receiver, x_sender)) = W_r x_receiver + W_s x_sender + b
        w_r, w_s = self.fr1.weight[:, : self.p], self.fr1.weight[:, self.p :]
        at_receiver = F.linear(x, w_r, self.fr1.bias).index_select(1, self.receivers)
        at_sender = F.linear(x, w_s).index_select(1, self.senders)
        e = F.relu(at_receiver + at_sender)
        e = F.relu(self.fr3(F.relu(self.fr2(e))))  # [batch, N*(N-1), De]
        ebar_pp = e.reshape(batch, self.n, self.n - 1, self.de).sum(2)  # summed over each receiver's edges

        # track-vertex edges, track-major: every (track, vertex) pair
        w_t, w_v = self.fr1_pv.weight[:, : self.p], self.fr1_pv.weight[:, self.p :]
        at_track = F.linear(x, w_t, self.fr1_pv.bias).unsqueeze(2)  # [batch, N, 1, hidden]
        at_vertex = F.linear(y, w_v).unsqueeze(1)  # [batch, 1, Nv, hidden]
        e = F.relu(at_track + at_vertex)
        e = F.relu(self.fr3_pv(F.relu(self.fr2_pv(e))))  # [batch, N, Nv, De]
        ebar_pv = e.sum(2)

        c = torch.cat([x, ebar_pp, ebar_pv], dim=2)
        c = F.relu(self.fo3(F.relu(self.fo2(F.relu(self.fo1(c))))))  # [batch, N, Do]
        return self.fc_fixed(c.sum(1))


#: architecture names used in model cards -> constructors with the trained defaults
ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {
    "fairkg.digits-cnn": DigitsCNN,
    "fairkg.braggnn": BraggNN,
    "fairkg.interaction-network": InteractionNetwork,
}
