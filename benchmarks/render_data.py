"""Render the measured section of docs/data.md from benchmarks/results/data_*.json.

    python benchmarks/render_data.py

Only the text between the `<!-- data-results:start -->` and `<!-- data-results:end -->`
markers is replaced; no number in docs/data.md is typed by hand.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monde.io import read_json, replace_section  # noqa: E402

DOC = ROOT / "docs" / "data.md"
FIGURE = ROOT / "docs" / "figures" / "data_scaling.png"
START, END = "<!-- data-results:start -->", "<!-- data-results:end -->"


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB" if n < 2**30 else f"{n / 2**30:,.2f} GiB"


def render_loader(data: dict) -> list[str]:
    c = data["consumption"]
    w = data["window"]
    prov = data["provenance"]
    lines = [
        "### Loader throughput — `python benchmarks/data_loader.py`",
        "",
        f"Training consumes **{c['windows_per_s']:,.0f} windows/s**: the core TwoRoom step "
        f"(configs/two_room.yaml, batch {c['batch_size']}, windows of {c['window_frames']} "
        f"frames, frameskip {c['frameskip']}, {c['threads']} threads"
        + (f", {c['precision']['resolved']}" if "precision" in c else "")
        + f") takes {c['step_ms']:.0f} ms.",
        "",
        f"Delivery, windows of history {w['history']} + horizon {w['horizon']} frames with "
        f"frameskip {w['frameskip']}, batch {data['batch_size']}, uint8 frames:",
        "",
        "| source | hash-checked on read | frames | workers | episodes | windows/s | × training |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in data["delivery"]:
        checked = "yes" if r.get("verify_reads") else "no"
        lines.append(
            f"| {r['source']} | {checked} | {r['image_size']}×{r['image_size']} | {r['workers']} | "
            f"{r['episodes']} | {r['windows_per_s']:,.0f} | {r['vs_training']:.1f} |"
        )
    for v in data.get("verify_once", []):
        lines += [
            "",
            f"Hash-checking every episode once ({v['image_size']}×{v['image_size']}, "
            f"{v['episodes']} episodes, {v['frames']:,} frames) takes {v['seconds']:.2f} s, "
            f"{v['ms_per_episode']:.1f} ms per episode: each reading process pays it once, "
            "spread over its first read of each episode.",
        ]
    lines += [
        "",
        f"The native store at 64×64 delivers **{data['native_64_best_vs_training']:.1f}×** what "
        f"training consumes. Commit {prov['commit']}, torch {prov['torch']}, "
        f"{data['cpu_count']} CPUs"
        + (" — quick run, not a measurement." if data["quick"] else "."),
    ]
    if "load_average_1min" in data:
        load = data["load_average_1min"]
        lines += [
            "",
            f"The machine was shared: 1-minute load average {load['start']:.1f} at the start and "
            f"{load['end']:.1f} at the end on {data['cpu_count']} CPUs, so these figures, the "
            "× training ratios most of all, are not those of a quiet machine.",
        ]
    return lines


def render_scale(data: dict) -> list[str]:
    d, t, v = data["dataset"], data["train"], data["verify"]
    lines = [
        "### 10,000 episodes — `python benchmarks/data_scale.py`",
        "",
        f"- {data['episodes']:,} TwoRoom episodes, {d['frames']:,} frames of "
        f"{'×'.join(map(str, d['frame_shape']))}: **{_mib(d['allocated_bytes'])} on disk** "
        f"({d['files']:,} files; {_mib(d['decoded_frame_bytes'])} of frames once decoded).",
    ]
    if "collect" in data:
        lines.append(f"- Collected in {data['collect']['seconds'] / 60:.1f} min.")
    lines += [
        f"- `monde data verify`: {v['episodes_ok']:,} of {data['episodes']:,} episodes intact, "
        f"{v['seconds']:.0f} s.",
        f"- Training from it ({t['steps']} steps, `{t['command']}`): "
        f"**peak RSS {_mib(t['peak_rss_bytes'])}**, {t['seconds'] / 60:.1f} min.",
        f"- Commit {data['provenance']['commit']}.",
    ]
    return lines


def render_collect_scaling(data: dict) -> list[str]:
    lines = [
        "### Collection across worker processes — `python benchmarks/collect_scaling.py`",
        "",
        f"`monde collect --workers N` on {data['cores_available']} available cores "
        f"({data['cpu_model']}); each row collects the preset's episodes into a fresh store, "
        "timed from the call to the store marked complete (starting the workers included), "
        "fastest of its repeats. `--workers 0` is the default: the first batch is stepped in "
        "the collecting process and its stepping and writing times choose the workers.",
        "",
        "| env | --workers | processes used | episodes | episodes/s | × 1 worker "
        "| CPU ms per episode | cores it got | load average (1 min) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        speedup = f"{r['speedup']:.2f}" if r.get("speedup") else "–"
        load = r["load_average_1min"]
        lines.append(
            f"| {r['env']} | {r['workers']} | {r['workers_used']} | {r['episodes']} "
            f"| {r['episodes_per_s']:.2f} | {speedup} | {1000 * r['cpu_seconds_per_episode']:.0f} "
            f"| {r['cores_used']:.2f} | {load['start']:.1f} → {load['end']:.1f} |"
        )
    lines += [
        "",
        "`CPU ms per episode` counts the collecting process and its workers together: where it "
        "stays level as workers are added, the workers cost nothing extra and a collection "
        "runs as many times faster as it gets free cores; where it grows (pickling batches to "
        "the one writer, starting interpreters), the writer, not the stepping, sets the pace.",
    ]
    for env in dict.fromkeys(r["env"] for r in data["rows"]):
        twins = [r for r in data["rows"] if r["env"] == env and r["workers_used"] == 1]
        if len(twins) > 1:  # the same code: collected in the one process each time
            rates = [r["episodes_per_s"] for r in twins]
            lines += [
                "",
                f"{env} with --workers {' and '.join(str(r['workers']) for r in twins)} ran "
                f"the same way, in one process: {min(rates):.2f} and {max(rates):.2f} "
                f"episodes/s, {100 * (max(rates) / min(rates) - 1):.0f} % apart, the noise of "
                "this machine.",
            ]
    same = data["same_episodes_at_every_worker_count"]
    lines += [
        "",
        "Every worker count wrote the same episodes (per-episode hashes equal): "
        + ", ".join(f"{env} {'yes' if ok else '**no**'}" for env, ok in same.items())
        + f". Commit {data['provenance']['commit']}.",
        "",
        f"The machine may be shared ({data['cpu_count']} CPUs): `cores it got` is the row's "
        "CPU time (collecting process and workers) over its wall time, and the load average "
        "says how busy the machine was (a collection with N processes alone on it reads about "
        "N); a speedup below the worker count where the row got fewer cores than workers is "
        "the machine's, not the collection's.",
    ]
    return lines


def draw_data_scaling(data: dict, path: Path) -> None:
    """Success (95 % band) and the held-out probes' R² against training episodes, log x."""
    import matplotlib.pyplot as plt

    from monde.report.plots import save_png  # selects the Agg backend

    rows = data["rows"]
    x = [r["episodes"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    y = [100 * r["success_rate"] for r in rows]
    left.fill_between(
        x, [100 * r["ci95"][0] for r in rows], [100 * r["ci95"][1] for r in rows], alpha=0.2
    )
    left.plot(x, y, "o-", label="planner")
    if all(r["random_success_rate"] is not None for r in rows):
        left.plot(x, [100 * r["random_success_rate"] for r in rows], "s--", color="tab:gray",
                  label="random actions")  # fmt: skip
    left.set_ylim(0, 100)
    left.set_ylabel("goal-reaching success (%)")
    probed = [r for r in rows if r.get("probe_r2")]
    for name in probed[0]["probe_r2"] if probed else []:
        right.plot([r["episodes"] for r in probed], [r["probe_r2"][name] for r in probed], "o-",
                   label=name)  # fmt: skip
    right.set_ylim(-0.05, 1.02)
    right.set_ylabel("held-out linear probe R²")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{n:,}" for n in x])
        ax.minorticks_off()
        ax.set_xlabel("training episodes")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    title = f"{data['preset']} " + " ".join(data["overrides"])
    fig.suptitle(textwrap.fill(title, width=130), fontsize=9)  # long overrides wrap, not clip
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(fig, path)


def render_data_scaling(data: dict) -> list[str]:
    probe_names = next((list(r["probe_r2"]) for r in data["rows"] if r.get("probe_r2")), [])
    lines = [
        "### Success against training episodes — `python benchmarks/data_scaling.py`",
        "",
        f"Preset {data['preset']}"
        + (f" with {' '.join(data['overrides'])}" if data["overrides"] else "")
        + "; the largest size collected once, each smaller size its first episodes. The probe "
        "columns are the held-out linear probes' R² at the last probed training step.",
        "",
        f"![success and probes against training episodes]({FIGURE.relative_to(DOC.parent)})",
        "",
        "| training episodes | success (95 % CI) | random actions | train steps | train min |"
        + "".join(f" {n} R² |" for n in probe_names)
        + " commit |",
        "|---|---|---|---|---|" + "---|" * len(probe_names) + "---|",
    ]
    for r in data["rows"]:
        rand = (
            f"{100 * r['random_success_rate']:.0f} %"
            if r["random_success_rate"] is not None
            else "–"
        )
        train_min = f"{r['train_seconds'] / 60:.0f}" if r.get("train_seconds") else "–"
        probes = r.get("probe_r2") or {}
        lines.append(
            f"| {r['episodes']:,} | {100 * r['success_rate']:.0f} % ({100 * r['ci95'][0]:.0f} % "
            f"– {100 * r['ci95'][1]:.0f} %) | {rand} | {r['train_steps']:,} | {train_min} |"
            + "".join(f" {probes[n]:.2f} |" if n in probes else " – |" for n in probe_names)
            + f" {r.get('commit') or '–'} |"
        )
    lines += ["", f"Command: `{data['command']}`; commit {data['provenance']['commit']}."]
    draw_data_scaling(data, FIGURE)
    return lines


def main() -> None:
    results = ROOT / "benchmarks" / "results"
    parts: list[str] = []
    for name, render in (
        ("data_loader.json", render_loader),
        ("data_scale.json", render_scale),
        ("collect_scaling.json", render_collect_scaling),
        ("data_scaling.json", render_data_scaling),
    ):
        path = results / name
        if path.exists():
            parts += render(read_json(path)) + [""]
        else:
            parts += [f"*{name} not measured yet.*", ""]
    replace_section(DOC, START, END, START + "\n" + "\n".join(parts).rstrip() + "\n" + END)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
