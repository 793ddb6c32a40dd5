"""The target encoder as an exponential moving average of the online one (BYOL, I-JEPA)."""

from __future__ import annotations

import torch
from torch import nn


def ema_momentum(step: int, steps: int, start: float, end: float) -> float:
    """Momentum at `step` of `steps`: linear from `start` (step 0) to `end` (step `steps`)."""
    return start + (end - start) * min(1.0, step / max(1, steps))


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """θ_target ← m · θ_target + (1 − m) · θ_online for every parameter (buffers are copied)."""
    target_params = list(target.parameters())
    online_params = [p.detach() for p in online.parameters()]
    if len(target_params) != len(online_params):
        raise ValueError("target and online encoders have different parameters")
    torch._foreach_mul_(target_params, momentum)
    torch._foreach_add_(target_params, online_params, alpha=1.0 - momentum)
    for tb, ob in zip(target.buffers(), online.buffers(), strict=True):
        tb.copy_(ob)
