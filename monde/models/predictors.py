"""Action-conditioned predictors: latents and actions → the next latents.

A predictor knows nothing about pixels. Every variant implements the same two verbs:

    forward(z, a)          teacher forcing, causal in time: z (B, T, D), a (B, T, A) → (B, T, D),
                           where output t predicts z_{t+1} from z_{≤t} and a_{≤t}
    rollout(z_ctx, a_ctx, actions)
                           autoregressive: z_ctx (B, Tc, D), a_ctx (B, Tc−1, A) the actions
                           between context frames, actions (B, H, A) → (B, H, D)

Both predict a residual: ẑ_{t+1} = z_t + f(·), so an untrained predictor starts at "nothing moves".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _check_rollout_shapes(z_ctx: Tensor, a_ctx: Tensor | None, actions: Tensor) -> Tensor:
    b, tc, _ = z_ctx.shape
    if actions.ndim != 3 or actions.shape[0] != b or actions.shape[1] < 1:
        raise ValueError(f"actions must be (B={b}, H>=1, A); got {tuple(actions.shape)}")
    if a_ctx is None:
        a_ctx = actions.new_zeros(b, 0, actions.shape[2])
    if a_ctx.shape != (b, tc - 1, actions.shape[2]):
        raise ValueError(
            f"a_ctx must be (B, Tc−1, A) = ({b}, {tc - 1}, {actions.shape[2]}); "
            f"got {tuple(a_ctx.shape)}"
        )
    return a_ctx


class MLPPredictor(nn.Module):
    """A Markov residual MLP: ẑ_{t+1} = z_t + f([z_t, a_t]). The cheapest predictor to roll out.

    It sees only the last frame, so it suits fully observed scenes (TwoRoom); context frames
    before the last are ignored.
    """

    def __init__(self, latent_dim: int, action_dim: int, hidden_dim: int, num_layers: int):
        super().__init__()
        layers: list[nn.Module] = []
        size = latent_dim + action_dim
        for _ in range(num_layers):
            layers += [nn.Linear(size, hidden_dim), nn.ReLU(inplace=True)]
            size = hidden_dim
        self.net = nn.Sequential(*layers)
        self.output = nn.Linear(hidden_dim, latent_dim)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, z: Tensor, a: Tensor) -> Tensor:
        return z + self.output(self.net(torch.cat([z, a], dim=-1)))

    def rollout(self, z_ctx: Tensor, a_ctx: Tensor | None, actions: Tensor) -> Tensor:
        _check_rollout_shapes(z_ctx, a_ctx, actions)
        z, preds = z_ctx[:, -1], []
        for k in range(actions.shape[1]):
            z = self(z, actions[:, k])
            preds.append(z)
        return torch.stack(preds, dim=1)  # (B, H, D)


class GRUPredictor(nn.Module):
    """A recurrent predictor: h_t = GRU([z_t, a_t], h_{t−1}) (stacked cells); ẑ_{t+1} = z_t + W h_t.

    Built from GRUCells stepped in Python: rollouts are a handful of steps on large batches, where
    the fused cell is cheaper than nn.GRU's sequence machinery.
    """

    def __init__(self, latent_dim: int, action_dim: int, hidden_dim: int, num_layers: int):
        super().__init__()
        sizes = [latent_dim + action_dim] + [hidden_dim] * (num_layers - 1)
        self.cells = nn.ModuleList(nn.GRUCell(size, hidden_dim) for size in sizes)
        self.output = nn.Linear(hidden_dim, latent_dim)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def _step(self, z: Tensor, a: Tensor, h: list[Tensor] | None) -> tuple[Tensor, list[Tensor]]:
        """One step: z (B, D), a (B, A), h per layer (B, hidden) → ẑ (B, D), new h."""
        x = torch.cat([z, a], dim=-1)  # (B, D + A)
        new_h = []
        for i, cell in enumerate(self.cells):
            x = cell(x, None if h is None else h[i])
            new_h.append(x)
        return z + self.output(x), new_h

    def forward(self, z: Tensor, a: Tensor) -> Tensor:
        h, preds = None, []
        for t in range(z.shape[1]):
            z_next, h = self._step(z[:, t], a[:, t], h)
            preds.append(z_next)
        return torch.stack(preds, dim=1)  # (B, T, D)

    def rollout(self, z_ctx: Tensor, a_ctx: Tensor | None, actions: Tensor) -> Tensor:
        a_ctx = _check_rollout_shapes(z_ctx, a_ctx, actions)
        h = None
        for t in range(z_ctx.shape[1] - 1):  # warm the hidden state on the context transitions
            _, h = self._step(z_ctx[:, t], a_ctx[:, t], h)
        z, preds = z_ctx[:, -1], []
        for k in range(actions.shape[1]):
            z, h = self._step(z, actions[:, k], h)
            preds.append(z)
        return torch.stack(preds, dim=1)  # (B, H, D)


class AdaLNBlock(nn.Module):
    """Pre-norm transformer block whose LayerNorms are modulated by the action (AdaLN-zero)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim)
        )
        self.modulation = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        b, t, d = x.shape
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(cond).chunk(6, dim=-1)
        h = self.norm1(x) * (1 + scale1) + shift1
        q, k, v = self.qkv(h).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (y.transpose(1, 2) for y in (q, k, v))  # (B, heads, T, d/heads)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + gate1 * self.proj(att.transpose(1, 2).reshape(b, t, d))
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


class TransformerPredictor(nn.Module):
    """A frame-causal transformer: one token per frame, AdaLN conditioning on that frame's action.

    Attention is causal over time, so token t sees frames ≤ t; the context is truncated to the
    last `max_context` frames during rollout.
    """

    def __init__(
        self,
        latent_dim: int,
        action_dim: int,
        dim: int,
        depth: int,
        heads: int,
        max_context: int,
    ):
        super().__init__()
        if dim % heads:
            raise ValueError(f"transformer dim {dim} must be divisible by heads {heads}")
        self.max_context = max_context
        self.embed = nn.Linear(latent_dim, dim)
        self.action_embed = nn.Sequential(
            nn.Linear(action_dim, dim), nn.GELU(), nn.Linear(dim, dim)
        )
        self.position = nn.Parameter(torch.zeros(1, max_context, dim))
        self.blocks = nn.ModuleList(AdaLNBlock(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.output = nn.Linear(dim, latent_dim)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, z: Tensor, a: Tensor) -> Tensor:
        t = z.shape[1]
        if t > self.max_context:
            raise ValueError(f"sequence of {t} frames exceeds max_context {self.max_context}")
        x = self.embed(z) + self.position[:, :t]  # (B, T, dim)
        cond = self.action_embed(a)  # (B, T, dim)
        for block in self.blocks:
            x = block(x, cond)
        return z + self.output(self.norm(x))

    def rollout(self, z_ctx: Tensor, a_ctx: Tensor | None, actions: Tensor) -> Tensor:
        a_ctx = _check_rollout_shapes(z_ctx, a_ctx, actions)
        zs, acts = z_ctx, a_ctx
        preds = []
        for k in range(actions.shape[1]):
            acts = torch.cat([acts, actions[:, k : k + 1]], dim=1)  # (B, T, A)
            window = slice(-self.max_context, None)
            z_next = self(zs[:, window], acts[:, window])[:, -1:]  # (B, 1, D)
            preds.append(z_next)
            zs = torch.cat([zs, z_next], dim=1)
        return torch.cat(preds, dim=1)  # (B, H, D)
