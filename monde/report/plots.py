"""Matplotlib figures of a run as PNG bytes (Agg backend; never opens a window).

Each function takes the plain dicts of `monde.eval.understanding` or the rows of metrics.jsonl.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

LOSS_KEYS = (
    "loss",
    "teacher_forcing",
    "rollout",
    "variance",
    "covariance",
    "sigreg",
    "inverse_dynamics",
    "time_similarity",
    "time_contrast",
    "batch_contrast",
)


def save_png(fig: Figure, path: str | Path, dpi: int = 110) -> None:
    """Write `fig` to `path` as PNG atomically (a reader never sees half a file), close it."""
    from monde.io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def training_curves(rows: Sequence[dict], success: Sequence[dict] | None = None) -> bytes:
    """metrics.jsonl rows → losses by step (log scale) and the probe R² logged in training;
    with `success` (monde.eval.success_curve rows), a third panel of success by step."""
    panels = 3 if success else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.6))
    ax1, ax2 = axes[0], axes[1]
    steps = [r["step"] for r in rows]
    for key in LOSS_KEYS:
        pts = [(s, r[key]) for s, r in zip(steps, rows, strict=True) if r.get(key, 0) > 0]
        if pts:
            ax1.plot(*zip(*pts, strict=True), label=key)
    ax1.set(xlabel="training step", ylabel="loss term", yscale="log", title="training losses")
    probe_keys = sorted({k for r in rows for k in r if k.startswith("probe_r2/")})
    for key in probe_keys:
        pts = [(r["step"], r[key]) for r in rows if key in r]
        ax2.plot(*zip(*pts, strict=True), marker="o", label=key.split("/", 1)[1])
    ax2.set(xlabel="training step", ylabel="R²", title="linear probe R² (held-out, in training)")
    base = [r["step"] for r in rows if r.get("stage") != "post_train"]
    post = base[-1] if base and len(base) < len(rows) else None  # the first stage's last step
    if post is not None:  # where a post-trained run's second stage starts
        for ax in (ax1, ax2):
            ax.axvline(post, color="0.5", ls=":", lw=1, label="post-training starts")
    ax1.legend(fontsize=7)
    if probe_keys or post is not None:
        ax2.legend(fontsize=7)
    if success:
        ax3 = axes[2]
        x = [r["step"] for r in success]
        rate = [100 * r["success_rate"] for r in success]
        low = [100 * r["ci95"][0] for r in success]
        high = [100 * r["ci95"][1] for r in success]
        ax3.plot(x, rate, marker="o", label="planner")
        ax3.fill_between(x, low, high, alpha=0.2, label="95 % CI")
        ax3.set(
            xlabel="training step",
            ylabel="success %",
            ylim=(0, 100),
            title=f"success by checkpoint ({success[0]['episodes']} episodes each)",
        )
        ax3.legend(fontsize=7)
    return _png(fig)


def rollout_error_plot(err: dict, frameskip: int) -> bytes:
    """Normalised latent error and agent-position error by open-loop rollout step."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    steps = err["steps"]
    ax1.plot(steps, err["latent"], marker="o", label="mean")
    ax1.plot(steps, err["latent_p90"], marker=".", ls="--", label="90th percentile")
    ax1.set(
        xlabel=f"model steps ahead (× {frameskip} env steps)",
        ylabel="‖ẑ − z‖² / latent scale",
        title="latent error of open-loop rollouts",
    )
    ax1.legend(fontsize=8)
    if "state_rmse" in err:
        for name, values in err["state_rmse"].items():
            ax2.plot(steps, values, marker="o", label=f"{name} (predicted)")
        if "agent_position_error" in err:
            ax2.plot(steps, err["agent_position_error"], "k--", label="agent position (L2)")
    ax2.set(
        xlabel=f"model steps ahead (× {frameskip} env steps)",
        ylabel="error (state units)",
        title="state error through the linear probe",
    )
    ax2.legend(fontsize=7)
    return _png(fig)


def probe_plot(probes: dict, frameskip: int) -> bytes:
    """R² of probes on predicted latents by step, the encoded-latent R² as dotted lines."""
    kinds = list(probes["predicted_refit"])
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 3.6), squeeze=False)
    steps = probes["steps"]
    for ax, kind in zip(axes[0], kinds, strict=True):
        per_step = probes["predicted_refit"][kind]
        for i, name in enumerate(per_step[0]):
            colour = f"C{i}"
            pts = [
                (s, r[name]) for s, r in zip(steps, per_step, strict=True) if r[name] is not None
            ]
            if not pts:
                continue  # a constant state column (e.g. a fixed wall): R² undefined
            ax.plot(*zip(*pts, strict=True), marker="o", color=colour, label=name)
            if probes["encoded"][kind][name] is not None:
                ax.axhline(probes["encoded"][kind][name], color=colour, ls=":", lw=1)
        ax.set(
            xlabel=f"model steps ahead (× {frameskip} env steps)",
            ylabel="held-out R²",
            title=f"{kind} probe on predicted latents (dotted: encoded)",
            ylim=(min(0.0, ax.get_ylim()[0]), 1.02),
        )
        ax.legend(fontsize=7)
    return _png(fig)


def surprise_plot(surprise: dict) -> bytes:
    """One panel per kind of event: mean surprise around the event, physical vs impossible."""
    kinds = list(surprise)
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.2 * len(kinds), 3.2), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        row = surprise[kind]
        x = row["curve_offsets"]
        for name, style in (("physical", "C0o-"), ("impossible", "C3o-")):
            pts = [(o, v) for o, v in zip(x, row[f"curve_{name}"], strict=True) if v is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, ms=3, label=name)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set(title=f"{kind}\nAUROC {row['auroc']:.3f}", xlabel="model frames from the event")
        ax.set_yscale("log")
    axes[0][0].set_ylabel("surprise ‖ẑ − z‖² / scale")
    axes[0][0].legend(fontsize=7)
    return _png(fig)
