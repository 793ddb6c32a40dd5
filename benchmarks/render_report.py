"""Render docs/report.md from benchmarks/results/{report_demo,decoder_diagnosis}.json.

    python benchmarks/render_report.py

No number typed by hand: every figure comes from the two JSONs, written by
`python benchmarks/report_demo.py` and `python benchmarks/decoder_diagnosis.py`.
"""

from __future__ import annotations

from pathlib import Path

from monde.io import atomic_write_text, read_json
from monde.models.decoder import MOVING_THRESHOLD
from monde.report.build import decoder_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "report.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a literal bar inside a Markdown table cell


def _verdict(r: dict, base: dict) -> str:
    """What a variant's numbers say, in words."""
    saturated = r["trace"][-1]["dead_fraction"] if r["trace"] else 0.0
    if saturated > 0.5 and r["psnr_db"] < base["psnr_db_black"] + 1:
        return "collapses to black all the same"
    if r["moving_psnr_db"] < base["moving_psnr_db_mean_frame"] + 3:
        return "does not saturate, but learns nothing that moves in these steps"
    return "draws some of the moving content, still far below v2"


def _load(avg: list[float]) -> str:
    return " / ".join(f"{x:.1f}" for x in avg)


def _nice(d: dict) -> str:
    n = d.get("niceness")
    return f", the report running at niceness {n} (behind other work)" if n else ""


def demo_section(d: dict) -> list[str]:
    q, dec = d["decoder"]["held_out"], d["decoder"]
    prov = d["provenance"]
    lines = [
        "## On the `make demo` model",
        "",
        f"Written by `python benchmarks/report_demo.py` (commit {prov['commit']}, torch "
        f"{prov['torch']}): `{d['command']}` in a fresh process, with the decoder trained anew "
        f"({dec['steps']} steps on {dec['frames']} frozen latents). It took "
        f"**{d['report_wall_s']:.0f} s** wall time and **{d['report_cpu_s']:.0f} s of CPU "
        f"time** (user + system, all threads) on a {d['cpus']}-core machine whose load average "
        f"(1 / 5 / 15 min) was {_load(d['load_average_before'])} before and "
        f"{_load(d['load_average_after'])} after{_nice(d)}. The machine was shared, so the wall "
        "time is an upper bound; the report computes without waiting on I/O, on one or two "
        "threads, so on a quiet machine its wall time is about its CPU time or less.",
        "",
        "| check | value | target | passed |",
        "|---|---|---|---|",
    ]
    for c in d["checks"]:
        lines.append(f"| {c['check']} | {c['value']:.1f} | {c['target']} | "
                     f"{'yes' if c['passed'] else '**no**'} |")  # fmt: skip
    lines += [
        "",
        f"Held-out reconstruction on the {q['frames']} frames of the run's held-out episodes, "
        "decoder(encoder(frame)) against the frame (PSNR of intensities in [0, 1], from the "
        "mean squared error pooled over all frames). 'Moving pixels' are those where the true "
        f"frame differs from the mean training frame by more than {MOVING_THRESHOLD} (max over "
        f"channels): {100 * q['moving_pixel_fraction']:.2f} % of them here, the agent. The "
        "mean frame alone scores well over all pixels, since the scene is mostly static; over "
        "the moving pixels it scores as low as black, and only a decoder that draws the agent "
        "where it is scores high there.",
        "",
        decoder_table(q),
        "",
    ]
    if d.get("phases"):
        lines += [
            "Where the report's time went (wall and CPU seconds per phase; the decoder phase "
            "encodes the training and held-out frames once, then trains the decoder for "
            f"{dec.get('train_wall_s', 0):.0f} s wall, {dec.get('train_cpu_s', 0):.0f} s CPU):",
            "",
            "| phase | wall s | CPU s |",
            "|---|---|---|",
        ]
        for name, t in d["phases"].items():
            lines.append(f"| {name} | {t['wall_s']:.1f} | {t['cpu_s']:.1f} |")
        lines.append("")
    return lines


def _subnormal(v1: dict) -> str:
    kept = v1.get("cpu_s_per_step_subnormals_kept")
    if kept is None:
        return ""
    flushed = v1["cpu_s_per_step_subnormals_flushed"]
    return (
        f": the saturated gradients are subnormal floats, which the CPU computes slowly — the "
        f"trained v1 took {kept:.3f} CPU s/step with them and {flushed:.3f} with them flushed "
        "to zero"
    )


def diagnosis_section(d: dict) -> list[str]:
    base, rows = d["baselines"], {r["name"]: r for r in d["variants"]}
    v1, v2 = rows["v1"], rows["v2"]
    eps = d["adam_eps"]
    dead = next((t for t in v1["trace"] if t["dead_fraction"] > 0.5), v1["trace"][-1])
    last = v1["trace"][-1]
    prov = d["provenance"]
    lines = [
        "## Why the first decoder drew black frames",
        "",
        f"Written by `{d['command']}` (commit {prov['commit']}, {d['seconds']:.0f} s, load "
        f"average {_load(d['load_average'])} on {d['cpus']} cores) on the frozen latents of "
        f"{d['train_frames']} training frames of the demo model (latent {d['latent_dim']}, "
        f"mean per-dimension spread {d['latent_std_per_dim_mean']:.2f}), scored on "
        f"{d['test_frames']} held-out frames. The first decoder ('v1') ended in a per-pixel "
        "sigmoid, weighted its squared error by 1 + 30·|frame − mean frame| and trained with "
        f"AdamW at lr 2e-3 (cosine), {v1['batch_size']} frames a batch. Every v1 variant below "
        "changes one suspect and trains with the same batches and seed; v2 trains with its own "
        f"defaults ({v2['batch_size']} frames a batch).",
        "",
        f"- **What it converged to.** {100 * base['black_pixel_fraction']:.1f} % of held-out "
        f"pixels are pure black. An all-black image scores a weighted loss of "
        f"{base['weighted_loss_all_black']:.4f}; v1 ended at {v1['final_loss']:.4f} with the "
        f"PSNR of an all-black image ({v1['psnr_db']:.1f} dB against "
        f"{base['psnr_db_black']:.1f} dB): it collapsed to black.",
        f"- **Output activation (the cause).** By step {dead['step']} the mean pre-activation "
        f"of the sigmoid was {dead['preactivation_mean']:.1f} and "
        f"{100 * dead['dead_fraction']:.0f} % of the pre-activations sat where the sigmoid's "
        f"gradient σ(1 − σ) is below Adam's ε ({eps:g}): no update moves them any more. At the "
        f"end: mean {last['preactivation_mean']:.1f}, max {last['preactivation_max']:.2f}, "
        f"{100 * last['dead_fraction']:.0f} % saturated. The floor pulls every output down, and "
        "Adam's per-weight normalisation turns that steady pull into full-size steps until the "
        "sigmoid saturates.",
    ]
    for name, label in (("v1, unweighted", "Loss weighting"), ("v1, lr ÷10", "Learning rate"),
                        ("v1, normalised latents", "Latent normalisation"),
                        ("v1, 3× steps", "Too few steps")):  # fmt: skip
        r = rows[name]
        end = r["trace"][-1]
        lines.append(
            f"- **{label}** ({r['changes']}, {r['steps']} steps) {_verdict(r, base)}: PSNR "
            f"{r['psnr_db']:.1f} dB, moving pixels {r['moving_psnr_db']:.1f} dB, "
            f"{100 * end['dead_fraction']:.0f} % saturated at the end."
        )
    lines += [
        f"- **The fix ('v2')**, {v2['changes']}. In the same {v2['steps']} steps (of "
        f"{v2['batch_size']} frames): PSNR {v2['psnr_db']:.1f} dB, moving pixels "
        f"{v2['moving_psnr_db']:.1f} dB (the mean frame: {base['psnr_db_mean_frame']:.1f} and "
        f"{base['moving_psnr_db_mean_frame']:.1f} dB). Nothing can saturate, and step 0 "
        "already draws the static scene.",
        f"- **Speed.** v1's steps slowed as it saturated ({v1['seconds_per_step_first_30']:.3f} "
        f"s/step over the first 30 steps, {v1['seconds_per_step_last_100']:.3f} over the last "
        "100)" + _subnormal(v1) + f"; v2 took {v2['seconds_per_step_last_100']:.3f} s/step. The "
        "machine was shared: compare rows measured together, not across runs.",
        "",
        "| variant | change | steps × batch | final weighted loss | PSNR | PSNR moving pixels | "
        "saturated at the end | s/step, first 30 | s/step, last 100 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in d["variants"]:
        sat = f"{100 * r['trace'][-1]['dead_fraction']:.0f} %" if r["trace"] else "– (linear)"
        lines.append(
            f"| {r['name']} | {_cell(r['changes'])} | {r['steps']} × {r['batch_size']} | "
            f"{r['final_loss']:.4f} | "
            f"{r['psnr_db']:.1f} dB | {r['moving_psnr_db']:.1f} dB | {sat} | "
            f"{r['seconds_per_step_first_30']:.3f} | {r['seconds_per_step_last_100']:.3f} |"
        )
    lines += [
        "",
        "v1 step by step (weighted loss averaged since the previous row; pre-activations on "
        "held-out latents):",
        "",
        "| step | weighted loss | mean pre-activation | max pre-activation | saturated |",
        "|---|---|---|---|---|",
    ]
    for t in v1["trace"]:
        lines.append(
            f"| {t['step']} | {t['loss']:.4f} | {t['preactivation_mean']:.2f} | "
            f"{t['preactivation_max']:.2f} | {100 * t['dead_fraction']:.1f} % |"
        )
    lines.append("")
    return lines


def render(demo: dict | None, diagnosis: dict | None) -> str:
    lines = [
        "# The report and its visualisation decoder",
        "",
        "Generated by `python benchmarks/render_report.py` from "
        "`benchmarks/results/report_demo.json` and `benchmarks/results/decoder_diagnosis.json`.",
        "",
        "`monde report RUN` writes RUN/report/index.html (self-contained), report.md with "
        "media/, and understanding.json: training curves, the success table, probes, open-loop "
        "rollout error, surprise at impossible events, and GIFs of what the model imagines — "
        "true frames beside decoded encoded frames and decoded open-loop rollouts, and planned "
        "episodes beside the decoded end of the current plan. The pictures come from a "
        "visualisation decoder trained afterwards on frozen latents (never part of the JEPA "
        "loss), saved in RUN/decoder and reused while the model weights are unchanged. Its "
        "held-out reconstruction PSNR is printed in the report ('Visualisation decoder') and "
        "recorded in understanding.json under `decoder.held_out`, beside the PSNR of an "
        "all-black image and of the mean training frame.",
        "",
        "The decoder (`monde/models/decoder.py`) draws the mean training frame plus a residual "
        "decoded from the latent (centred and scaled by its RMS spread): a linear layer to a "
        "4×4 map, transposed convolutions that double the side up to the image size (the last "
        "one straight to pixels, initialised at zero), no output activation (values are "
        "clamped only when converted to pixels). Loss: squared error weighted by 1 + 30·|frame "
        "− mean frame|, so the small moving agent counts; AdamW, one-cycle schedule up to "
        "lr 1e-2; the encoder runs once over the training frames and the decoder trains on "
        "those cached latents.",
        "",
    ]
    if demo is not None:
        lines += demo_section(demo)
    if diagnosis is not None:
        lines += diagnosis_section(diagnosis)
    return "\n".join(lines)


def main() -> None:
    paths = [RESULTS / "report_demo.json", RESULTS / "decoder_diagnosis.json"]
    demo, diagnosis = (read_json(p) if p.exists() else None for p in paths)
    atomic_write_text(DOC, render(demo, diagnosis))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
