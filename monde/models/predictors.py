"""Action-conditioned predictors: latents and actions → the next latents.

A predictor knows nothing about pixels. Every variant implements the same two verbs:

    forward(z, a)          teacher forcing, causal in time: z (B, T, D), a (B, T, A) → (B, T, D),
                           where output t predicts z_{t+1} from z_{≤t} and a_{≤t}
    rollout(z_ctx, a_ctx, actions)
                           autoregressive: z_ctx (B, Tc, D), a_ctx (B, Tc−1, A) the actions
                           between context frames, actions (B, H, A) → (B, H, D)
    rollout_samples(z_ctx, a_ctx, actions)
                           the planner's fast path: S candidate action sequences per context,
                           z_ctx (B, Tc, D), a_ctx (B, Tc−1, A), actions (B, S, H, A)
                           → (B, S, H, D), equal to `rollout` on the context repeated S times
                           (to float rounding); work that depends only on the context is done
                           once per episode, not once per sample

Both predict a residual: ẑ_{t+1} = z_t + f(·), so an untrained predictor starts at "nothing moves".

Each kind is built from a ModelConfig by a `build_*` function below, named by one line in
`monde.registry.PREDICTORS` (a new kind: one module with its class and builder, one line there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from monde.config import ModelConfig


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


def _check_sample_shapes(z_ctx: Tensor, a_ctx: Tensor | None, actions: Tensor) -> Tensor:
    """Shapes of rollout_samples: z_ctx (B, Tc, D), actions (B, S, H, A) → a_ctx (B, Tc−1, A)."""
    if actions.ndim != 4 or actions.shape[0] != z_ctx.shape[0] or actions.shape[2] < 1:
        raise ValueError(
            f"actions must be (B={z_ctx.shape[0]}, S, H>=1, A); got {tuple(actions.shape)}"
        )
    return _check_rollout_shapes(z_ctx, a_ctx, actions[:, 0])


def _repeat_rollout(predictor: nn.Module, z_ctx: Tensor, a_ctx: Tensor | None, actions: Tensor):
    """rollout_samples by repeating the context S times: (B, S, H, A) → (B, S, H, D)."""
    b, s, h, a = actions.shape
    z_rep = z_ctx.repeat_interleave(s, dim=0)  # (B·S, Tc, D)
    a_rep = None if a_ctx is None else a_ctx.repeat_interleave(s, dim=0)  # (B·S, Tc−1, A)
    out = predictor.rollout(z_rep, a_rep, actions.reshape(b * s, h, a))  # (B·S, H, D)
    return out.reshape(b, s, h, -1)


def _gru_gates(gi: Tensor, gh: Tensor, h: Tensor | None) -> Tensor:
    """GRU cell update from the input and hidden projections (..., 3·hidden) → h' (..., hidden).

    r, u = σ(gi_r + gh_r), σ(gi_u + gh_u); n = tanh(gi_n + r ⊙ gh_n); h' = n + u ⊙ (h − n),
    i.e. nn.GRUCell's (1 − u) ⊙ n + u ⊙ h; h None means a zero state.
    """
    hidden = gi.shape[-1] // 3
    ru = torch.sigmoid(gi[..., : 2 * hidden] + gh[..., : 2 * hidden])  # (..., 2·hidden)
    r, u = ru[..., :hidden], ru[..., hidden:]
    n = torch.tanh(torch.addcmul(gi[..., 2 * hidden :], r, gh[..., 2 * hidden :]))
    return n - u * n if h is None else torch.addcmul(n, u, h - n)


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

    def rollout_samples(self, z_ctx: Tensor, a_ctx: Tensor | None, actions: Tensor) -> Tensor:
        """S rollouts per context: z_ctx (B, Tc, D), actions (B, S, H, A) → (B, S, H, D).

        The same function as `rollout` on the last context frame repeated S times, with fewer,
        larger operations (planning calls this thousands of times per episode):
            1. The first layer splits into W_z z + (W_a a + b): the action part of all H steps
               is one matmul, (B, S, H, A) → (B·S, H, hidden).
            2. At step 0, z is the same for all S samples: W_z z is computed on B rows.
            3. Each step is then addmm, relu, (hidden layers), and addmm into the output, with
               the residual z added by the last addmm.
        """
        _check_sample_shapes(z_ctx, a_ctx, actions)
        b, s, h, a = actions.shape
        d = z_ctx.shape[-1]
        first, *hidden = [m for m in self.net if isinstance(m, nn.Linear)]
        w_z_t = first.weight[:, :d].t()  # (D, hidden)
        pre_a = F.linear(actions, first.weight[:, d:], first.bias).view(b * s, h, -1)  # 1.
        z0 = z_ctx[:, -1]  # (B, D)
        pre_z0 = (z0 @ w_z_t).repeat_interleave(s, 0)  # 2. (B·S, hidden)
        z = z0.repeat_interleave(s, 0)  # (B·S, D)
        w_out_t, b_out = self.output.weight.t(), self.output.bias
        preds = []
        for k in range(h):
            x = pre_a[:, k] + pre_z0 if k == 0 else torch.addmm(pre_a[:, k], z, w_z_t)
            x = x.relu_()  # (B·S, hidden)
            for layer in hidden:
                x = torch.addmm(layer.bias, x, layer.weight.t()).relu_()
            z = torch.addmm(z, x, w_out_t).add_(b_out)  # 3. z + W x + b, (B·S, D)
            preds.append(z)
        return torch.stack(preds, 1).view(b, s, h, d)  # (B·S, H, D) → (B, S, H, D)


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

    def rollout_samples(self, z_ctx: Tensor, a_ctx: Tensor | None, actions: Tensor) -> Tensor:
        """S rollouts per context: z_ctx (B, Tc, D), actions (B, S, H, A) → (B, S, H, D).

        The same function as `rollout` on the context repeated S times, computed faster:
            1. The hidden state is warmed on the context transitions once per episode (B rows).
            2. The first layer's input projection splits into W_z z + W_a a + b: the action part
               of all H steps is one matmul, (H, B, S, A) → (H, B, S, 3·hidden).
            3. At step 0, z is the same for all S samples: its projection is computed on B rows
               and repeated over S.
            4. Each step then costs one (B·S, D) and one (B·S, hidden) matmul for the first
               layer, the gate arithmetic, and the output projection.
        """
        a_ctx = _check_sample_shapes(z_ctx, a_ctx, actions)
        b, s, h, a = actions.shape
        d = z_ctx.shape[-1]
        h_ctx: list[Tensor] | None = None
        for t in range(z_ctx.shape[1] - 1):  # 1. context transitions, once per episode
            _, h_ctx = self._step(z_ctx[:, t], a_ctx[:, t], h_ctx)
        first = self.cells[0]
        w_z_t = first.weight_ih[:, :d].t().contiguous()  # (D, 3·hidden)
        w_a_t = first.weight_ih[:, d:].t().contiguous()  # (A, 3·hidden)
        acts = actions.permute(2, 0, 1, 3).reshape(h * b * s, a)  # (H·B·S, A), step-major
        gi_a = torch.addmm(first.bias_ih, acts, w_a_t).view(h, b * s, -1)  # 2. (H, B·S, 3·hid)
        z = z_ctx[:, -1]  # (B, D)
        gi_z = (z @ w_z_t).repeat_interleave(s, 0)  # 3. (B·S, 3·hidden) from B rows
        z = z.repeat_interleave(s, 0)  # (B·S, D)
        hs: list[Tensor | None] = [None] * len(self.cells)
        if h_ctx is not None:  # the context's hidden state, repeated over S
            hs = [x.repeat_interleave(s, 0) for x in h_ctx]  # per layer (B·S, hidden)
        preds = []
        for k in range(h):
            gi = gi_a[0] + gi_z if k == 0 else torch.addmm(gi_a[k], z, w_z_t)  # (B·S, 3·hid)
            x = z
            for i, cell in enumerate(self.cells):
                if i > 0:
                    gi = F.linear(x, cell.weight_ih, cell.bias_ih)  # (B·S, 3·hidden)
                gh = (
                    cell.bias_hh if hs[i] is None else F.linear(hs[i], cell.weight_hh, cell.bias_hh)
                )
                x = hs[i] = _gru_gates(gi, gh, hs[i])  # (B·S, hidden)
            z = z + self.output(x)  # (B·S, D)
            preds.append(z)
        return torch.stack(preds, dim=1).view(b, s, h, d)  # (B, S, H, D)


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
        """x, cond (B, T, dim) → (B, T, dim), causal over T."""
        return self.forward_cached(x, cond, None)[0]

    def forward_cached(
        self,
        x: Tensor,
        cond: Tensor,
        past: tuple[Tensor, Tensor] | None,
        mask: Tensor | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """`forward` for new tokens after cached ones: the KV cache of the planner's rollout.

        x, cond (B, T, dim) new tokens; past (keys, values) (B, heads, P, dim/heads) of the P
        earlier tokens, or None. `mask` (T, P + T) bool says where each new token may attend
        (monde.models.token_predictor's frame-causal tokens); without it, with past, T must be 1
        (the newest token sees every earlier one), and without past attention is causal over
        the T tokens. → x (B, T, dim) and the (keys, values) of all P + T tokens.
        """
        b, t, d = x.shape
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(cond).chunk(6, dim=-1)
        h = self.norm1(x) * (1 + scale1) + shift1
        q, k, v = self.qkv(h).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (y.transpose(1, 2) for y in (q, k, v))  # (B, heads, T, d/heads)
        if past is not None:
            if t != 1 and mask is None:
                raise ValueError(f"forward_cached with a cache takes one new token, got {t}")
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # (B, h, P+T, ·)
        causal = mask is None and past is None
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        x = x + gate1 * self.proj(att.transpose(1, 2).reshape(b, t, d))
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h), (k, v)


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

    def rollout_samples(self, z_ctx: Tensor, a_ctx: Tensor | None, actions: Tensor) -> Tensor:
        """S rollouts per context, KV-cached: z_ctx (B, Tc, D), actions (B, S, H, A) → (B, S, H, D).

        Token t holds frame z_t and the action taken after it; causal attention means a token's
        keys and values never change once computed, so while the Tc + H − 1 tokens of the
        rollout fit in `max_context` (no sliding window, positions fixed):
            1. The first Tc − 1 context tokens (their actions are the fixed a_ctx) run once per
               episode on B rows; their per-block keys/values are repeated over S.
            2. Each step runs one new token per sample through the blocks, attending to the
               cache, instead of re-running the whole window.
        Longer rollouts fall back to `rollout` on the context repeated S times.
        """
        a_ctx = _check_sample_shapes(z_ctx, a_ctx, actions)
        b, s, h, _ = actions.shape
        tc = z_ctx.shape[1]
        if tc + h - 1 > self.max_context:
            return _repeat_rollout(self, z_ctx, a_ctx, actions)
        caches: list[tuple[Tensor, Tensor] | None] = [None] * len(self.blocks)
        if tc > 1:  # 1. the fixed prefix, once per episode
            x = self.embed(z_ctx[:, :-1]) + self.position[:, : tc - 1]  # (B, Tc−1, dim)
            cond = self.action_embed(a_ctx)  # (B, Tc−1, dim)
            for i, block in enumerate(self.blocks):
                x, (k, v) = block.forward_cached(x, cond, None)  # k, v (B, heads, Tc−1, ·)
                caches[i] = (k.repeat_interleave(s, 0), v.repeat_interleave(s, 0))  # (B·S, ·)
        z = z_ctx[:, -1:].expand(b, s, -1).reshape(b * s, 1, -1)  # (B·S, 1, D)
        acts = actions.reshape(b * s, h, -1)  # (B·S, H, A)
        cond_all = self.action_embed(acts)  # (B·S, H, dim)
        preds = []
        for k in range(h):  # 2. one token per step
            pos = tc - 1 + k
            x = self.embed(z) + self.position[:, pos : pos + 1]  # (B·S, 1, dim)
            for i, block in enumerate(self.blocks):
                x, caches[i] = block.forward_cached(x, cond_all[:, k : k + 1], caches[i])
            z = z + self.output(self.norm(x))  # (B·S, 1, D)
            preds.append(z)
        return torch.cat(preds, dim=1).reshape(b, s, h, -1)  # (B, S, H, D)


def build_mlp(cfg: ModelConfig) -> MLPPredictor:
    """model.predictor 'mlp': a Markov residual MLP on [z_t, a_t]."""
    return MLPPredictor(cfg.latent_dim, cfg.action_dim, cfg.predictor_dim, cfg.predictor_depth)


def build_gru(cfg: ModelConfig) -> GRUPredictor:
    """model.predictor 'gru': stacked GRU cells on [z_t, a_t]."""
    return GRUPredictor(cfg.latent_dim, cfg.action_dim, cfg.predictor_dim, cfg.predictor_depth)


def build_transformer(cfg: ModelConfig) -> TransformerPredictor:
    """model.predictor 'transformer': frame-causal, AdaLN-zero action conditioning."""
    return TransformerPredictor(
        cfg.latent_dim,
        cfg.action_dim,
        cfg.predictor_dim,
        cfg.predictor_depth,
        cfg.predictor_heads,
        cfg.max_context,
    )
