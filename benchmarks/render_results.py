"""Render docs/results.md from benchmarks/results/*.json. No number in the docs is typed by hand.

python benchmarks/render_results.py
"""

from __future__ import annotations

import json
from pathlib import Path

from monde.io import atomic_write_text, read_json
from monde.report import success_table, success_with_ci

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
COMMANDS = {
    "two_room.json": "make demo",
    "two_room_random_wall.json": "make random-wall",
    "two_room_heldout_walls.json": "make heldout-walls",
    "cpu_precision.json": "python benchmarks/cpu_precision.py",
}


def _random_wall(data: dict) -> bool:
    """Whether the run moved the wall: results of older Monde recorded it at the top level."""
    if "random_wall" in data:
        return bool(data["random_wall"])
    return bool(data["config"]["env"].get("options", {}).get("random_wall", False))


def render_goal_reaching(name: str, data: dict) -> str:
    plan = data["single_episode_plan"]
    prov = data["provenance"]
    cfg = data["config"]
    lines = [
        f"## {name} — `{COMMANDS.get(name, '?')}`",
        "",
        f"TwoRoom, random wall: {_random_wall(data)}; {cfg['eval']['episodes']} episodes, "
        f"budget {cfg['eval']['max_steps']} environment steps, CEM {cfg['plan']['samples']} × "
        f"{cfg['plan']['iterations']}, horizon {cfg['plan']['horizon']} × frameskip "
        f"{cfg['model']['frameskip']}. Commit {prov['commit']}, torch {prov['torch']}, "
        f"{prov['threads']} threads"
        + (f" (train.threads = {cfg['train']['threads']})." if cfg["train"]["threads"] else "."),
        "",
        success_table(data["results"]),
        "",
        f"One replanning call for one episode: {plan['median_ms']:.1f} ms median, "
        f"{plan['p95_ms']:.1f} ms p95 ({plan['calls']} calls).",
    ]
    novelty = data.get("scene_novelty")
    if _random_wall(data) and novelty and "columns" in novelty:
        lines += [
            "",
            f"Evaluation walls vs the "
            f"{novelty.get('training_scenes', cfg['data']['episodes'])} training walls "
            f"({', '.join(novelty['columns'])}): nearest training wall at median "
            f"{novelty['median_distance_to_training']:.4f}, minimum "
            f"{novelty['min_distance_to_training']:.4f} (arena units; one pixel is "
            f"{1 / cfg['env']['image_size']:.4f}); {novelty['identical_scenes']} identical.",
        ]
    if "train_seconds" in data:
        metrics = data.get("final_train_metrics", {})
        probes = ", ".join(
            f"{k.split('/', 1)[1]} {v:.3f}" for k, v in metrics.items() if k.startswith("probe_r2/")
        )
        shift = cfg["train"].get("shift_augment", 0)
        lines += [
            "",
            f"Collection {data['collect_seconds']:.0f} s (coverage: "
            f"{json.dumps(data.get('data_coverage', {}))}); training "
            f"{data['train_seconds']:.0f} s for {cfg['train']['steps']} steps"
            + (f" (windows shifted by up to {shift} px)" if shift else "")
            + f"; held-out linear probe R² {probes or 'n/a'}.",
        ]
    return "\n".join(lines)


def render_precision(data: dict) -> str:
    mm, tr = data["matmul_gflops"], data["train_samples_per_s"]
    return "\n".join(
        [
            f"## cpu_precision.json — `{COMMANDS['cpu_precision.json']}`",
            "",
            f"CPU flags seen: {', '.join(data['cpu_flags']) or 'none of interest'}. "
            f"Commit {data['provenance']['commit']}.",
            "",
            "| | fp32 | bf16 autocast |",
            "|---|---|---|",
            f"| 1024² matmul, GFLOP/s | {mm['fp32']:.1f} | {mm['bf16']:.1f} |",
            f"| default model training, windows/s | {tr['fp32']:.0f} | {tr['bf16']:.0f} |",
        ]
    )


def render_heldout_scene_probe(name: str, data: dict) -> str:
    """Runs read on their training scenes' validation episodes and on held-out scenes."""
    lines = [
        f"## {name} — `{data['command']}`",
        "",
        f"Linear probes fitted on each run's training episodes, read on its validation episodes "
        f"(training scenes) and on {data['heldout_episodes']} episodes of held-out scenes; "
        "open-loop latent rollout error (mean squared distance over the latent scale) at the "
        "last step; success on the evaluation seeds of the run's results JSON. The runs and "
        "how they were trained: benchmarks/results/experiments/README.md. Commit "
        + data["provenance"]["commit"]
        + ".",
        "",
        "| run | shift px | success (95 % CI) | door_y R² train / held-out scenes | "
        "wall_x R² train / held-out | rollout error train / held-out |",
        "|---|---|---|---|---|---|",
    ]
    for run, entry in data["runs"].items():
        rate = success_with_ci(entry["success"]) if "success" in entry else "–"
        seen, new = entry["training_scenes"], entry["heldout_scenes"]
        r2 = lambda e, k: e["probes"]["encoded"]["linear"][k]  # noqa: E731
        cells = [
            run,
            str(entry["train"].get("shift_augment", 0)),
            rate,
            f"{r2(seen, 'door_y'):.3f} / {r2(new, 'door_y'):.3f}",
            f"{r2(seen, 'wall_x'):.3f} / {r2(new, 'wall_x'):.3f}",
            f"{seen['rollout_error']['latent'][-1]:.3f} / {new['rollout_error']['latent'][-1]:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    sections = [
        "# Results",
        "",
        "Generated by `python benchmarks/render_results.py` from "
        "`benchmarks/results/*.json`; each heading names the command that measures it.",
        "",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        data = read_json(path)
        if "results" in data and "single_episode_plan" in data:
            sections += [render_goal_reaching(path.name, data), ""]
        elif path.name == "heldout_scene_probe.json":
            sections += [render_heldout_scene_probe(path.name, data), ""]
        elif path.name == "cpu_precision.json":
            sections += [render_precision(data), ""]
    out = ROOT / "docs" / "results.md"
    atomic_write_text(out, "\n".join(sections))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
