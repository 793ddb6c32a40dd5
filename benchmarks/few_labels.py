"""Action-free first, few action labels after: success against labelled episodes, with and
without a self-supervised encoder pretrained on every episode's frames (actions ignored).

    python benchmarks/few_labels.py --env two_room_random_wall_conv --fine-tune --jobs 2
                                                                   # hours on 2 cores
    python benchmarks/few_labels.py --env push_t --budget quick
    python benchmarks/few_labels.py --env configs/two_room.yaml --sizes 20,all --budget quick \\
        model.encoder=vit model.encoder_patch=8 …                           # a reduced curve
    python benchmarks/few_labels.py --render                              # docs from the JSONs

`--env` names a preset of configs/pretrain/ (its world model has a patch-token encoder, 'vit')
or is a config path. The preset's collection (data.episodes: "all") is collected once into
RUNS/data. Then, once, `monde pretrain` (monde.pretrain) teaches the encoder on the frames of
all of it → RUNS/pretrain/encoder. For each size N (ascending), the first N episodes
(monde.data.prefix: bit for bit a collection of N) are copied into RUNS/labels_N, and two
world models train on them with the same config and steps:

- without: the encoder from scratch (the action-free stage skipped);
- with: the encoder started from the pretrained one (train.encoder_init), frozen by default
  (`--fine-tune`: the whole encoder trains).

`--jobs N` trains N points at once, each in its own process at the config's train.threads (the
action-free arm's points first).

Both are evaluated on the same held-out goals (the config's eval section) → success with its
95 % interval. Every point records its stage times (wall and CPU seconds, the 1-min load
average before and after: the machine is shared, so times vary with others' load), whether the
trained backbone equals the pretrained one, and its config. The JSON
(benchmarks/results/few_labels_<name>.json, <name> the config's stem) is rewritten after each
point; a re-run reuses points whose config is unchanged and resumes an interrupted collection,
pretraining or training, so a killed run continues where it stopped (`--fresh` ignores the JSON).

A run that is not the preset at its full budget over the default sizes is marked
`"reduced": {what was reduced}`. `--render` draws docs/figures/few_labels_<name>.png (success
against labelled episodes, one line per arm, 95 % bands) and the table in docs/few_labels.md
from every benchmarks/results/few_labels_*.json.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monde.config import RunConfig  # noqa: E402
from monde.config_io import load_config, to_dict  # noqa: E402
from monde.io import atomic_write_json, read_json, replace_section  # noqa: E402

PRESETS = ROOT / "configs" / "pretrain"
RESULTS = ROOT / "benchmarks" / "results"
FIGURES = ROOT / "docs" / "figures"
DOC = ROOT / "docs" / "few_labels.md"
DEFAULT_SIZES = "25,50,100,200,all"
BUDGETS: dict[str, list[str]] = {
    "full": [],  # the preset as it is
    # a first look: shorter pretraining and training, half the evaluation episodes
    "quick": ["pretrain.steps=600", "train.steps=3000", "eval.episodes=50"],
}
ARMS = ("without", "with")
SHARED_MACHINE = "2 CPU cores shared with other jobs: times vary with their load"


def preset_path(env: str) -> Path:
    """`--env`: a preset name of configs/pretrain/ or a config path."""
    path = Path(env)
    if path.suffix in (".yaml", ".yml"):
        if not path.exists():
            raise SystemExit(f"--env {env}: no such config file")
        return path
    preset = PRESETS / f"{env}.yaml"
    if not preset.exists():
        known = ", ".join(sorted(p.stem for p in PRESETS.glob("*.yaml")))
        raise SystemExit(f"--env {env}: no preset {preset} (known: {known}; or a config path)")
    return preset


def parse_sizes(text: str) -> list[str]:
    """'25,50,all' → ['25', '50', 'all']: positive integers or 'all'."""
    sizes = [s.strip() for s in text.split(",") if s.strip()]
    for s in sizes:
        if s != "all" and not (s.isdigit() and int(s) > 0):
            raise SystemExit(f"--sizes: {s!r} is neither a positive integer nor 'all'")
    return sizes


def resolve_sizes(sizes: list[str], all_episodes: int) -> list[int]:
    """Labels → episode counts, ascending, unique; a size above the collection is an error."""
    counts = sorted({all_episodes if s == "all" else int(s) for s in sizes})
    if counts[-1] > all_episodes:
        raise SystemExit(
            f"--sizes: {counts[-1]} labelled episodes asked, the collection (data.episodes) "
            f"holds {all_episodes}"
        )
    return counts


def reduced_by(preset: Path, budget: str, overrides: list[str], sizes: list[str]) -> dict:
    """What makes this run smaller than the curve the issue asks for ({} when nothing)."""
    why: dict = {}
    if preset.resolve().parent != PRESETS.resolve():
        why["config"] = f"{os.path.relpath(preset.resolve(), ROOT)}, not a configs/pretrain preset"
    if budget != "full":
        why["budget"] = f"{budget}: {' '.join(BUDGETS[budget])} (overrides given win)"
    if overrides:
        why["overrides"] = overrides
    if set(sizes) != set(parse_sizes(DEFAULT_SIZES)):
        why["sizes"] = f"{','.join(sizes)} instead of {DEFAULT_SIZES}"
    return why


def same_point(arm: str, old: dict, new: dict) -> bool:
    """Is a point trained with config `old` the one config `new` asks for? The world model
    trained from scratch never reads the pretrain section, so a change there re-runs only the
    action-free arm's points."""
    if arm == "without":
        old, new = ({k: v for k, v in c.items() if k != "pretrain"} for c in (old, new))
    return old == new


@contextlib.contextmanager
def stage(record: dict, name: str) -> Iterator[None]:
    """Record a stage's wall and CPU seconds and the load average around it in record[name]."""
    wall, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    yield
    record[name] = {
        "wall_seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "load_average_1min": [load, os.getloadavg()[0]],
    }


def backbone_vs_pretrained(model_dir: Path, encoder_dir: Path) -> dict:
    """Is the trained model's encoder backbone the pretrained one? Bit-equal tensors, and the
    relative L2 distance of all backbone weights from the pretrained ones."""
    import torch

    from monde.io import load_safetensors

    pretrained = load_safetensors(encoder_dir / "encoder.safetensors")[0]
    trained = load_safetensors(model_dir / "model.safetensors")[0]
    diff = norm = 0.0
    equal = True
    for key, value in pretrained.items():
        mine = trained[f"encoder.backbone.{key}"].float()
        equal &= torch.equal(mine, value.float())
        diff += float((mine - value.float()).pow(2).sum())
        norm += float(value.float().pow(2).sum())
    return {"equal": equal, "relative_distance": math.sqrt(diff / max(norm, 1e-30))}


def point_summary(payload: dict) -> dict:
    """The success fields of an evaluation payload (monde.pipeline.evaluate)."""
    planner, rand = payload["results"]["planner"], payload["results"].get("random")
    return {
        "success_rate": planner["success_rate"],
        "ci95": planner["ci95"],
        "eval_episodes": planner["episodes"],
        "random_success_rate": rand["success_rate"] if rand else None,
        "plan_ms_median": payload["single_episode_plan"]["median_ms"],
    }


class Curve:
    """One env's curve: the run folders, the JSON, and the stages that fill it. `argv`, the
    invocation's arguments, is recorded as its command (and in each point it measures)."""

    def __init__(self, args: argparse.Namespace, argv: list[str]) -> None:
        self.preset = preset_path(args.env)
        self.name = self.preset.stem
        self.runs = args.runs or ROOT / "runs" / "few_labels" / self.name
        self.out = args.out or RESULTS / f"few_labels_{self.name}.json"
        self.overrides = [*BUDGETS[args.budget], *args.overrides]
        self.freeze = not args.fine_tune
        self.progress = not args.quiet
        base = self.config()
        self.all_episodes = base.data.episodes
        self.sizes = resolve_sizes(parse_sizes(args.sizes), self.all_episodes)
        old = {} if args.fresh or not self.out.exists() else read_json(self.out)
        self.result = {
            "command": " ".join(["python benchmarks/few_labels.py", *argv]),
            "config": os.path.relpath(self.preset.resolve(), ROOT),
            "env": base.env.name,
            "budget": args.budget,
            "overrides": self.overrides,
            "encoder": "frozen" if self.freeze else "fine-tuned",
            "all_episodes": self.all_episodes,
            "sizes": self.sizes,
            "reduced": reduced_by(self.preset, args.budget, args.overrides, parse_sizes(args.sizes))
            or False,
            "stages": old.get("stages", {}),
            "pretrain": old.get("pretrain"),
            "points": [],
            "machine": SHARED_MACHINE,
            "load_average_1min": {"start": os.getloadavg()[0]},
        }
        self.finished = {(p["arm"], p["episodes"]): p for p in old.get("points", [])}

    def config(self, episodes: int | None = None, pretrained: bool = False) -> RunConfig:
        extra = [] if episodes is None else [f"data.episodes={episodes}"]
        if pretrained:
            extra += [
                f"train.encoder_init={self.runs / 'pretrain' / 'encoder'}",
                f"train.freeze_encoder={'true' if self.freeze else 'false'}",
            ]
        return load_config(RunConfig, self.preset, [*self.overrides, *extra])

    def write(self) -> None:
        from monde.report import provenance

        self.result["load_average_1min"]["end"] = os.getloadavg()[0]
        self.result["provenance"] = provenance()
        self.result["points"].sort(key=lambda p: (p["episodes"], ARMS.index(p["arm"])))
        atomic_write_json(self.out, self.result)

    def collect_all(self) -> Path:
        from monde.pipeline import demo_data

        data = self.runs / "data"
        data.parent.mkdir(parents=True, exist_ok=True)
        timing: dict = {}
        with stage(timing, "collect"):  # reused (and checked against the config) when there
            collect_s, _ = demo_data(self.config(), data, resume=True, progress=self.progress)
        if "collect" not in self.result["stages"]:
            self.result["stages"]["collect"] = {**timing["collect"], "store_seconds": collect_s}
            self.write()
        return data

    def pretrain(self, data: Path) -> Path:
        """RUNS/pretrain/encoder: reused when pretrained with this config, resumed when
        interrupted, else pretrained afresh."""
        from monde.pretrain.loop import pretrain_run

        cfg, run = self.config(), self.runs / "pretrain"
        saved = run / "config.yaml"
        same = saved.exists() and to_dict(load_config(RunConfig, saved, [])) == to_dict(cfg)
        if same and (run / "results.json").exists() and (run / "encoder").exists():
            return run / "encoder"
        with stage(self.result["stages"], "pretrain"):
            results = pretrain_run(cfg, data, run, resume=same, progress=self.progress)
        self.result["pretrain"] = {
            "steps": results["steps"],
            "anti_collapse": results["anti_collapse"],
            "frames_per_s": results.get("frames_per_s"),
            "final": results["final"],
            "run": os.path.relpath(run.resolve(), ROOT),
        }
        self.write()
        return run / "encoder"

    def labels(self, data: Path, n: int) -> Path:
        """The first n episodes as their own store (the whole collection for n = all)."""
        from monde.data.prefix import first_episodes
        from monde.data.store import EpisodeStore, is_store

        if n == self.all_episodes:
            return data
        out = self.runs / f"labels_{n}"
        if is_store(out) and EpisodeStore(out).meta.get("complete") is True:
            return out
        shutil.rmtree(out, ignore_errors=True)  # an interrupted copy starts again
        cfg = self.config(n)
        first_episodes(data, out, cfg.env, cfg.data, self.progress)
        return out

    def point(self, arm: str, n: int, labels: Path, encoder: Path) -> dict:
        """Train (or resume) and evaluate one arm at n labelled episodes."""
        from monde.envs.registry import env_entry
        from monde.pipeline import evaluate
        from monde.report import provenance
        from monde.train.run import train_run

        cfg = self.config(n, pretrained=arm == "with")
        run = self.runs / f"{arm}_{n}"
        saved = run / "config.yaml"
        resume = saved.exists() and same_point(
            arm, to_dict(load_config(RunConfig, saved, [])), to_dict(cfg)
        )
        timing: dict = {}
        if not (resume and (run / "model" / "model.safetensors").exists()):
            with stage(timing, "train"):
                train_run(
                    cfg,
                    labels,
                    run,
                    resume=resume,
                    progress=self.progress,
                    position=env_entry(cfg.env.name).position,
                )
        with stage(timing, "eval"):
            payload = evaluate(cfg, run / "model", run / "results.json", self.progress)
        return {
            "arm": arm,
            "episodes": n,
            "label": "all" if n == self.all_episodes else str(n),
            **point_summary(payload),
            "train_steps": cfg.train.steps,
            "encoder_init": cfg.train.encoder_init or None,
            "freeze_encoder": cfg.train.freeze_encoder,
            "backbone_vs_pretrained": backbone_vs_pretrained(run / "model", encoder)
            if encoder.exists()
            else None,
            "stages": timing,
            "run": os.path.relpath(run.resolve(), ROOT),
            "config": to_dict(cfg),
            # the invocation that measured it: a re-run keeps its reused points' own
            "measured_by": {"command": self.result["command"], "commit": provenance()["commit"]},
        }

    def run(self, jobs: int = 1, arms: tuple[str, ...] = ARMS) -> dict:
        """The points of `arms` on the curve; with jobs > 1 that many points train at once, each
        in its own process (at the config's train.threads), the action-free arm's points first.
        The other arm's finished points stay in the JSON."""
        clock = time.perf_counter()
        data = self.collect_all()
        encoder = self.pretrain(data) if "with" in arms else self.runs / "pretrain" / "encoder"
        pending = []
        for (arm, _n), done in self.finished.items():
            if arm not in arms:
                self.result["points"].append(done)
        for n in self.sizes:
            for arm in arms:
                cfg = to_dict(self.config(n, pretrained=arm == "with"))
                done = self.finished.get((arm, n))
                if done is not None and same_point(arm, done.get("config") or {}, cfg):
                    print(f"{arm} the action-free stage, {n} labelled episodes: done, reused")
                    self.add(done, clock)
                else:
                    pending.append((arm, n, self.labels(data, n)))
        if jobs <= 1:
            for arm, n, labels in pending:
                print(f"{arm} the action-free stage, {n} labelled episodes: training")
                self.add(self.point(arm, n, labels, encoder), clock)
            return self.result
        pending.sort(key=lambda job: (job[0] != "with", job[1]))
        self.progress = False  # bars of several processes would overwrite each other
        context = multiprocessing.get_context("spawn")  # no torch state forked into workers
        failed = []
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {}
            for arm, n, labels in pending:
                print(f"{arm} the action-free stage, {n} labelled episodes: training (queued)")
                futures[pool.submit(self.point, arm, n, labels, encoder)] = (arm, n)
            for future in as_completed(futures):
                try:
                    self.add(future.result(), clock)
                except Exception as error:  # the other points still finish and are written
                    arm, n = futures[future]
                    failed.append(f"{arm}, {n} labelled episodes: {type(error).__name__}: {error}")
        if failed:
            raise SystemExit("points that failed (a re-run resumes them):\n" + "\n".join(failed))
        return self.result

    def add(self, done: dict, clock: float) -> None:
        """A finished point into the JSON (rewritten at once) and one line on stdout."""
        self.result["points"].append(done)
        self.result["seconds_this_invocation"] = time.perf_counter() - clock
        self.write()
        lo, hi = done["ci95"]
        print(
            f"{done['arm']} the action-free stage, {done['episodes']} labelled episodes: success "
            f"{100 * done['success_rate']:.0f} % ({100 * lo:.0f}–{100 * hi:.0f}) → {self.out}",
            flush=True,
        )


# ---------------------------------------------------------------- rendering (figure and docs)


def curve_of(result: dict, arm: str) -> list[dict]:
    return sorted((p for p in result["points"] if p["arm"] == arm), key=lambda p: p["episodes"])


def tenth_reaches(result: dict) -> dict | None:
    """With the action-free stage: the success at the largest size ≤ 10 % of all labelled
    episodes, as a fraction of the success all labels give — with the action-free stage, and
    without it (the from-scratch model on every label) — None without those points."""
    by = {(p["arm"], p["episodes"]): p for p in result["points"]}
    every = result["all_episodes"]
    few = [n for arm, n in by if arm == "with" and n <= every / 10]
    if not few or ("with", every) not in by:
        return None
    n = max(few)
    success = by["with", n]["success_rate"]

    def fraction(arm: str) -> float | None:
        full = by.get((arm, every))
        return success / full["success_rate"] if full and full["success_rate"] > 0 else None

    return {
        "episodes": n,
        "success_rate": success,
        "fraction_of_all_with": fraction("with"),
        "fraction_of_all_without": fraction("without"),
    }


def measured_elsewhere(result: dict) -> list[str]:
    """Doc lines naming the points that an earlier invocation measured (a re-run reuses
    finished points, or `--arms` keeps the other arm's): their command and commit."""
    by_command: dict[tuple[str, str], list[str]] = {}
    for p in sorted(result["points"], key=lambda p: (p["episodes"], ARMS.index(p["arm"]))):
        measured = p.get("measured_by")
        if measured and measured["command"] != result["command"]:
            key = (measured["command"], measured["commit"])
            by_command.setdefault(key, []).append(f"{p['arm']} {p['label']}")
    return [
        f"Points {', '.join(points)} measured by `{command}` (commit {commit}).\n"
        for (command, commit), points in by_command.items()
    ]


def draw_figure(result: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    from monde.report.plots import save_png  # selects the Agg backend

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    styles = {"without": ("tab:gray", "encoder from scratch"), "with": ("tab:blue", "")}
    styles["with"] = ("tab:blue", f"pretrained on all frames ({result['encoder']})")
    for arm in ARMS:
        points = curve_of(result, arm)
        if not points:
            continue
        color, label = styles[arm]
        x = [p["episodes"] for p in points]
        y = [100 * p["success_rate"] for p in points]
        lo = [100 * p["ci95"][0] for p in points]
        hi = [100 * p["ci95"][1] for p in points]
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)  # the 95 % band
        bars = [
            [a - b for a, b in zip(y, lo, strict=True)],
            [b - a for a, b in zip(y, hi, strict=True)],
        ]
        ax.errorbar(x, y, yerr=bars, fmt="o-", color=color, capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xticks(result["sizes"], [str(s) for s in result["sizes"]])
    ax.minorticks_off()
    ax.set_ylim(0, 100)
    ax.set_xlabel("labelled episodes (actions known)")
    ax.set_ylabel("goal-reaching success (%)")
    title = f"{result['name']}" + (" (reduced run)" if result["reduced"] else "")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")  # away from the points
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(fig, path)


def percent(p: dict | None) -> str:
    if p is None:
        return "—"
    lo, hi = p["ci95"]
    return f"{100 * p['success_rate']:.0f} % ({100 * lo:.0f}–{100 * hi:.0f})"


def section(result: dict, figure: str) -> str:
    """One env's block of docs/few_labels.md."""
    by = {(p["arm"], p["episodes"]): p for p in result["points"]}
    lines = [f"### {result['name']}", ""]
    if result["reduced"]:
        what = "; ".join(f"{k}: {v if isinstance(v, str) else ' '.join(v)}"
                         for k, v in result["reduced"].items())  # fmt: skip
        lines += [f"**Reduced run** ({what}), not the curve the preset defines.", ""]
    missing = [n for n in result["sizes"] for arm in ARMS if (arm, n) not in by]
    if missing:
        lines += [f"Unfinished: {len(missing)} of {2 * len(result['sizes'])} points missing.", ""]
    lines += [
        f"`{result['command']}` → `benchmarks/results/few_labels_{result['name']}.json` "
        f"(commit {result['provenance']['commit']}; encoder {result['encoder']}; "
        f"{result['all_episodes']} episodes in all; {result['machine']}).",
        "",
        *measured_elsewhere(result),
        f"![success against labelled episodes]({figure})",
        "",
        "| labelled episodes | without the action-free stage | with it "
        "| train s (without / with) |",
        "|---|---|---|---|",
    ]
    for n in result["sizes"]:
        without, with_ = by.get(("without", n)), by.get(("with", n))
        seconds = " / ".join(
            f"{p['stages']['train']['wall_seconds']:.0f}" if p and "train" in p["stages"] else "—"
            for p in (without, with_)
        )
        label = f"{n} (all)" if n == result["all_episodes"] else str(n)
        lines.append(f"| {label} | {percent(without)} | {percent(with_)} | {seconds} |")
    pre = result.get("pretrain")
    if pre:
        t = result["stages"].get("pretrain", {}).get("wall_seconds")
        lines += ["", f"Action-free stage: {pre['steps']} steps of `monde pretrain` "
                  f"({pre['anti_collapse']}) on every episode's frames"
                  + (f", {t:.0f} s" if t is not None else "") + "."]  # fmt: skip
    tenth = tenth_reaches(result)
    if tenth is not None:
        of = [
            f"{100 * value:.0f} % of the success all {result['all_episodes']} give {arm} it"
            for arm, value in (("with", tenth["fraction_of_all_with"]),
                               ("without", tenth["fraction_of_all_without"]))
            if value is not None
        ]  # fmt: skip
        reach = " and ".join(of) or (
            f"no fraction of the success all {result['all_episodes']} give: that is 0 % in both "
            "arms, so the criterion says nothing here"
        )
        lines += [
            "",
            f"With the action-free stage, {tenth['episodes']} labelled episodes (≤ 10 % of all) "
            f"reach {reach} (target: ≥ 90 %).",
        ]
    return "\n".join(lines)


BEGIN, END = "<!-- few_labels:begin -->", "<!-- few_labels:end -->"


def render(results_dir: Path = RESULTS, figures: Path = FIGURES, doc: Path = DOC) -> list[Path]:
    """Figures and the docs table from every few_labels_*.json in `results_dir` → the figures."""
    drawn, blocks = [], []
    for path in sorted(results_dir.glob("few_labels_*.json")):
        result = read_json(path)
        result["name"] = path.stem.removeprefix("few_labels_")
        figure = figures / f"{path.stem}.png"
        if result["points"]:
            draw_figure(result, figure)
            drawn.append(figure)
        blocks.append(section(result, os.path.relpath(figure, doc.parent)))
    body = "\n\n".join(blocks) if blocks else "No curve measured yet."
    replace_section(doc, BEGIN, END, f"{BEGIN}\n{body}\n{END}")
    return drawn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="two_room_random_wall_conv", help="preset or config")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="labelled episodes, 'all' too")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="full")
    parser.add_argument("--fine-tune", action="store_true", help="train the pretrained encoder")
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    parser.add_argument("--runs", type=Path, default=None, help="run folders")
    parser.add_argument("--fresh", action="store_true", help="ignore the points in the JSON")
    parser.add_argument("--render", action="store_true", help="only redraw figures and docs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--jobs", type=int, default=1, help="points trained at once, one process each"
    )
    parser.add_argument(
        "--arms", choices=("both", *ARMS), default="both", help="train only one arm's points"
    )
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.steps=500")
    args = parser.parse_args(argv)
    if not args.render:
        if args.jobs < 1:
            raise SystemExit(f"--jobs {args.jobs}: at least 1")
        arms = ARMS if args.arms == "both" else (args.arms,)
        Curve(args, sys.argv[1:] if argv is None else argv).run(args.jobs, arms)
        if args.out is not None:  # a JSON elsewhere (a try, a test): the docs stay as they are
            return
    for figure in render():
        print(f"wrote {figure}")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
