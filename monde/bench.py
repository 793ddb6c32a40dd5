"""The benchmark table: collect → train → evaluate per environment from presets, one command.

`run_bench` runs the demo pipeline (monde.pipeline's `run_demo`, what `monde demo` calls) on
configs/bench/<env>_<budget>.yaml for each environment (a built-in env, or any name with such a
preset, e.g. a Gymnasium env through the generic adapter) and input set (`rgb`, `rgb+proprio`,
`rgb+depth`, `rgb+proprio+depth`: the image alone, or fused with the env's proprioceptive state
columns and/or a depth channel) and writes
benchmarks/results/bench/<env>_<budget>[_proprio][_depth][_swm].json, then `render_table` turns
every such JSON into the Markdown table of docs/benchmarks.md. Two
evaluation protocols: Monde's own (start and goal sampled by the environment on held-out seeds)
and `swm`, compatible with stable-worldmodel's published tables (50 episodes, goal 25 steps ahead
on a trajectory of the collection policy, 50-step budget, CEM 300 × 30, horizon 5, receding 5).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from monde.io import atomic_write_json, atomic_write_text, read_json

if TYPE_CHECKING:
    from monde.config import RunConfig

BUDGETS = ("quick", "full", "large")  # large: only where a preset exists (push_t)
INPUTS = ("rgb", "rgb+proprio", "rgb+depth", "rgb+proprio+depth")
PROTOCOLS = ("monde", "swm")
SWM_OVERRIDES = (
    "eval.protocol=swm",
    "eval.episodes=50",
    "eval.goal_steps=25",
    "eval.max_steps=50",
    "plan.samples=300",
    "plan.iterations=30",
    "plan.horizon=5",
    "plan.receding=5",
)


def bench_envs() -> tuple[str, ...]:
    """The registered envs whose registry entry makes them rows of `monde bench` by name."""
    from monde.envs.registry import ENV_REGISTRY  # here, so that `monde --help` stays light

    return tuple(name for name, entry in ENV_REGISTRY.items() if entry.bench)


def canonical_env(env: str) -> str:
    """The registered name of a benchmark env, accepting the spellings of other tools (pusht)
    that its registry entry lists."""
    from monde.envs.registry import ENV_REGISTRY

    aliases = {alias: name for name, entry in ENV_REGISTRY.items() for alias in entry.aliases}
    return aliases.get(env.lower(), env)


def preset_envs(presets: Path) -> list[str]:
    """Benchmark names with a preset under `presets` that are not built-in envs: any
    `<name>_<budget>.yaml` (e.g. a Gymnasium env through the generic adapter, `env.name: gym`)."""
    names = {
        path.stem.rsplit("_", 1)[0]
        for budget in BUDGETS
        for path in Path(presets).glob(f"*_{budget}.yaml")
    }
    return sorted(names - set(bench_envs()))


def preset(presets: Path, env: str, budget: str) -> Path:
    """The preset of `env` at `budget`, with a clear error when it does not exist."""
    env = canonical_env(env)
    if env not in bench_envs() and env not in preset_envs(presets):
        known = [*bench_envs(), *preset_envs(presets)]
        raise ValueError(f"unknown benchmark env {env!r}; known: {', '.join(known)}")
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; known: {', '.join(BUDGETS)}")
    path = presets / f"{env}_{budget}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no preset for {env} at budget {budget}")
    return path


def result_name(
    env: str, budget: str, protocol: str, inputs: str = "rgb", train_seed: int | None = None
) -> str:
    """e.g. push_t_full.json, reacher_full_proprio_depth_swm.json; a row trained with another
    seed than its preset's (`--train-seeds`): push_t_full_train_seed_1.json."""
    extra = "".join(f"_{part}" for part in inputs.split("+")[1:])  # _proprio, _depth
    extra += f"_train_seed_{train_seed}" if train_seed is not None else ""
    return f"{env}_{budget}{extra}" + ("_swm" if protocol == "swm" else "") + ".json"


SEEDED = re.compile(r"^(?P<base>.+)_train_seed_(?P<seed>\d+)(?P<swm>_swm)?$")
"""a results JSON's stem trained with another seed than its preset's → its preset row's stem"""


def run_name(result: str) -> str:
    """The run folder of a results JSON's name: both protocols of a row share its training."""
    return result.removesuffix(".json").removesuffix("_swm")


def input_overrides(env: str, inputs: str) -> list[str]:
    """Config overrides that feed `inputs` to the model: proprio columns and/or a depth channel."""
    from monde.envs.registry import ENV_REGISTRY

    if inputs not in INPUTS:
        raise ValueError(f"unknown inputs {inputs!r}; known: {', '.join(INPUTS)}")
    entry, parts, out = ENV_REGISTRY[env], inputs.split("+"), []
    if "proprio" in parts:
        if not entry.proprio:
            raise ValueError(f"env {env!r} declares no proprioceptive state columns")
        out.append(f"model.proprio=[{','.join(entry.proprio)}]")
    if "depth" in parts:
        if not entry.depth:
            raise ValueError(f"env {env!r} renders no depth")
        out += ["env.options.depth=true", "model.in_channels=4"]
    return out


def learning_curve(stage_dirs: Sequence[Path], max_rows: int = 200) -> list[dict]:
    """The metrics.jsonl rows of a run's training stages, one after another, thinned to about
    `max_rows` (rows with probes and each stage's last row kept). A later stage (post-training)
    counts its steps on from the stage before's last one and marks its rows
    `"stage": "post_train"`."""
    from monde.runs import read_metrics  # skips a torn last line of a killed run

    rows: list[dict] = []
    for i, folder in enumerate(stage_dirs):
        stage = [r for r in read_metrics(Path(folder) / "metrics.jsonl") if "loss" in r]
        offset = rows[-1]["step"] if rows else 0
        marks = {"stage": "post_train"} if i > 0 else {}
        rows += [{**r, "step": r["step"] + offset, **marks} for r in stage]
    every = max(1, len(rows) // max_rows)
    last = {  # each stage's last row
        i
        for i in range(len(rows))
        if i + 1 == len(rows) or rows[i + 1].get("stage") != rows[i].get("stage")
    }
    return [
        r
        for i, r in enumerate(rows)
        if i % every == 0 or i in last or any(k.startswith("probe_r2/") for k in r)
    ]


def staged_success_curve(
    run: Path, cfg: RunConfig, episodes: int, progress: bool = False
) -> list[dict]:
    """monde.eval.success_curve of a run's training stages in order: with post-training, its
    base stage's checkpoints (RUN/base), then the post-training's, whose steps count on from
    the base stage's train.steps and whose rows are marked `"stage": "post_train"`, as
    `learning_curve` marks its rows. Every checkpoint plans as the run's final model did."""
    from monde.eval.success_curve import success_curve
    from monde.pipeline import BASE_STAGE

    if not cfg.post_train.steps:
        return success_curve(run, cfg, episodes, progress)
    base = success_curve(run / BASE_STAGE, cfg, episodes, progress)
    post = success_curve(run, cfg, episodes, progress, stage_steps=cfg.post_train.steps)
    offset = cfg.train.steps
    return base + [{**r, "step": r["step"] + offset, "stage": "post_train"} for r in post]


def run_bench(
    envs: Sequence[str],
    budget: str = "quick",
    protocol: str = "monde",
    presets: Path = Path("configs/bench"),
    runs: Path = Path("runs/bench"),
    results: Path = Path("benchmarks/results/bench"),
    overrides: Sequence[str] = (),
    progress: bool = True,
    inputs: Sequence[str] = ("rgb",),
    resume: bool = False,
    success_curve_episodes: int = 0,
    train_seeds: Sequence[int] | None = None,
) -> list[Path]:
    """Run each env's pipeline per input set; returns the results JSONs written.

    `success_curve_episodes` > 0 keeps every checkpoint and evaluates each on that many
    episodes (`success_curve` in the JSON; Monde protocol only).

    `train_seeds` trains and evaluates each row once per seed (`train.seed`, default: the
    preset's own only) on the same episodes and evaluation seeds: the preset's seed keeps the
    row's names, another one is its own row (`…_train_seed_<s>.json`, run `…_train_seed_<s>`)
    that reads the preset row's data (RUN/data of that run, collected first when missing).
    The table then pools each row's seeds (`render_seeds`).
    """
    from monde.config import RunConfig
    from monde.config_io import from_dict, load_config
    from monde.pipeline import BASE_STAGE, demo_config, run_demo
    from monde.runs import training_dirs

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    curve = success_curve_episodes > 0
    if success_curve_episodes < 0 or (curve and protocol != "monde"):
        raise ValueError(
            "a success curve (--success-curve) takes episodes ≥ 1 and --protocol monde"
        )
    envs = [canonical_env(env) for env in envs]
    paths = {env: preset(presets, env, budget) for env in envs}
    registered = {  # a preset env (monde bench swimmer) runs the env its preset names
        env: env if env in bench_envs() else load_config(RunConfig, path, []).env.name
        for env, path in paths.items()
    }
    jobs = [  # every preset and input set checked before any work
        (env, paths[env], kind, input_overrides(registered[env], kind))
        for env in envs
        for kind in inputs
    ]
    for _, path, _, feed in jobs if curve else []:
        train = load_config(RunConfig, path, [*feed, *overrides]).train
        if train.checkpoint_every < 1 or train.ensemble > 1:
            raise ValueError(
                f"{path}: a success curve needs train.checkpoint_every ≥ 1 and one model "
                "(train.ensemble 1)"
            )
    if train_seeds is not None and (not train_seeds or min(train_seeds) < 0):
        raise ValueError(f"train seeds must be one or more integers ≥ 0, got {train_seeds}")

    def row_seeds(path: Path, feed: list[str]) -> list[int | None]:
        """The seeds to train a row with: None for the preset's own (read once per row)."""
        own = load_config(RunConfig, path, [*feed, *overrides]).train.seed
        return [None if seed == own else seed for seed in (train_seeds or [own])]

    written = []
    for (env, path, kind, feed), seed in (
        (job, seed) for job in jobs for seed in row_seeds(job[1], job[3])
    ):
        name = result_name(env, budget, protocol, kind, seed)
        out = results / name
        extra = list(SWM_OVERRIDES) if protocol == "swm" else []
        extra += ["train.keep_checkpoints=100000"] if curve else []
        extra += [f"train.seed={seed}"] if seed is not None else []
        run = runs / run_name(name)
        shared = runs / run_name(result_name(env, budget, protocol, kind)) / "data"
        data_dir = shared if seed is not None else None  # the preset row's episodes
        settings = [*feed, *extra, *overrides]
        again = resume and run.exists()  # also an interrupted collection
        argv = ["demo", "--config", str(path), "--run", str(run), "--out", str(out), *settings]
        argv += ["--data", str(data_dir)] if data_dir is not None else []
        argv += ([] if progress else ["--quiet"]) + (["--resume"] if again else [])
        print(f"== {env} ({budget}, {kind}, protocol {protocol}): monde {' '.join(argv)}")
        clock = time.perf_counter()
        cfg = demo_config(path, settings, run, again)
        run_demo(cfg, run, out, resume=again, progress=progress, data_dir=data_dir)
        data = read_json(out)  # as written: what the table and the success curve read
        # an ensemble's curve is its first member's (each member trains alike, seed apart); a
        # post-trained run's is its base stage's, then its post-training's
        post = cfg.post_train.steps > 0
        first = training_dirs(run / BASE_STAGE if post else run, cfg.train.ensemble)[0]
        data["learning_curve"] = learning_curve([first, run] if post else [first])
        if curve:
            clock_curve = time.perf_counter()
            cfg = from_dict(RunConfig, data["config"], source=str(out))  # what demo evaluated
            data["success_curve"] = staged_success_curve(run, cfg, success_curve_episodes, progress)
            data["success_curve_seconds"] = time.perf_counter() - clock_curve
        data["bench"] = {
            "env": env,
            "budget": budget,
            "protocol": protocol,
            "inputs": kind,
            "preset": str(path),
            "wall_seconds": time.perf_counter() - clock,  # this invocation (a resume: less)
            # collection + training + evaluation, each as first measured, over every resume
            "total_seconds": data["collect_seconds"] + data["train_seconds"] + data["eval_seconds"],
        }
        atomic_write_json(out, data)
        written.append(out)
    return written


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _planner(plan: dict) -> str:
    """e.g. 'cem 300×10, h 5 + waypoints (300 ep.)'."""
    text = f"{plan['solver']} {plan['samples']}×{plan['iterations']}, h {plan['horizon']}"
    if plan.get("waypoints"):
        text += f" + waypoints ({plan['waypoints']} ep.)"
    if plan.get("ensemble_cost", "joint") != "joint":
        text += f", ensemble cost {plan['ensemble_cost']}"
    return text


def _at_start(row: dict) -> str:
    """' (3 at the goal at t = 0, left out)' where evaluation episodes started at their goal."""
    k = row.get("solved_at_start", 0)
    return f" ({k} at the goal at t = 0, left out)" if k else ""


def _model_inputs(cfg: dict) -> str:
    """What the model read, from its config: 'rgb', plus '+proprio' and/or '+depth' (a preset
    may feed proprioception itself, without --inputs), and ' (2 frames)' where each
    observation stacks the last frames (env.frame_stack)."""
    stack = cfg.get("env", {}).get("frame_stack", 1)
    parts = ["rgb"]
    parts += ["proprio"] if cfg["model"].get("proprio") else []
    parts += ["depth"] if cfg["model"].get("in_channels", 3) == 4 * stack else []
    return "+".join(parts) + (f" ({stack} frames)" if stack > 1 else "")


def _model_kind(cfg: dict) -> str:
    """Encoder / predictor of the row's model, from its config: 'cnn / mlp', with the token
    count of a token latent and whether the encoder came pretrained (frozen or fine-tuned)."""
    model, train = cfg["model"], cfg["train"]
    encoder = model.get("encoder", "cnn")
    if model.get("latent_tokens"):
        encoder += f" ({model['latent_tokens']} tokens)"
    if train.get("encoder_init"):
        encoder += ", pretrained" + (" frozen" if train.get("freeze_encoder") else "")
    kind = f"{encoder} / {model['predictor']}"
    members = train.get("ensemble", 1)
    post = cfg.get("post_train", {})
    if post.get("steps"):
        on = f" on {post['policy']}" if post.get("policy") else ""
        kind += f", post-trained {post['steps']} steps{on}"
    return kind + (f", ensemble of {members}" if members > 1 else "")


def machine_of(data: dict) -> str:
    """Where a row was measured and in what precision it trained: 'AMD EPYC (AVX512-BF16),
    bf16'. Rows written before provenance named the CPU: its class as the precision rule's
    probes saw it ('AMX CPU', 'AVX512-BF16 CPU', 'CPU without bf16'), else '–'."""
    prov, train = data.get("provenance", {}), data.get("precision", {}).get("train", {})
    on_gpu = str(train.get("device", "cpu")).startswith("cuda")
    where = prov.get("gpu") if on_gpu and prov.get("gpu") else prov.get("cpu")
    if where is None:
        reason = train.get("reason", "")
        probes = {
            "AMX-BF16: yes": "AMX CPU",
            "AVX512-BF16: yes": "AVX512-BF16 CPU",
            "oneDNN bf16: no": "CPU without bf16",
        }
        where = next((name for probe, name in probes.items() if probe in reason), "–")
        where = "GPU" if on_gpu else where
    logged = train.get("logged") or ([train["resolved"]] if "resolved" in train else [])
    return ", ".join([where, " + ".join(logged)] if logged else [where])


def render_table(results: Path) -> str:
    """Markdown table of every bench JSON under `results` (sorted by env, budget, protocol)."""
    rows = []
    for path in sorted(results.glob("*.json")):
        data = read_json(path)
        bench, res, cfg = data["bench"], data["results"], data["config"]
        planner, rand = res["planner"], res.get("random")
        steps = planner["mean_steps_to_goal"]
        samples = cfg["train"]["steps"] * cfg["train"]["batch_size"]  # windows trained on
        seeded = SEEDED.match(path.stem)
        kind = _model_kind(cfg) + (f", train seed {seeded['seed']}" if seeded else "")
        rows.append(
            f"| {bench['env']} | {_model_inputs(cfg)} | {kind} | {bench['budget']} "
            f"| {bench['protocol']} "
            f"| {_pct(planner['success_rate'])} ({_pct(planner['ci95'][0])} – "
            f"{_pct(planner['ci95'][1])}) "
            f"| {_pct(rand['success_rate']) if rand else '–'} "
            f"| {_planner(cfg['plan'])} "
            f"| {'–' if steps is None else f'{steps:.1f}'} "
            f"| {data['single_episode_plan']['median_ms']:.0f} "
            f"| {data['train_seconds'] / 60:.0f} "
            f"| {samples / data['train_seconds']:.0f} "
            f"| {bench.get('total_seconds', bench['wall_seconds']) / 60:.0f} "
            f"| {cfg['eval']['episodes']}{_at_start(planner)} | {machine_of(data)} "
            f"| {data['provenance']['commit']} |"
        )
    header = [
        "| env | inputs | model | budget | protocol | success (95 % CI) | random actions "
        "| planner | steps to goal "
        "| ms per plan call | train min | windows/s (training) | total min | episodes "
        "| machine, training precision | commit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    return "\n".join(header + rows) if rows else "No benchmark has been run yet."


def _settings(data: dict) -> dict:
    """A row's config as flat dotted keys, less its training seed and the settings that only
    pick where and how fast it runs (train.run.HOST_ONLY: threads, compile, …): what its
    seeds share. It is read as today's RunConfig, so a setting added after a row was written
    takes its default there, as the run had it, and does not set the row apart from rows
    written since."""
    from monde.config import RunConfig
    from monde.config_io import flatten, from_dict, to_dict
    from monde.train.run import HOST_ONLY

    flat = flatten(to_dict(from_dict(RunConfig, data["config"])))
    host_only = {f"{section}.{key}" for section, keys in HOST_ONLY.items() for key in keys}
    for key in ("train.seed", *host_only):
        flat.pop(key, None)
    return flat


def seed_groups(results: Path) -> dict[str, list[tuple[int, dict]]]:
    """Rows trained with several seeds: the preset row's stem → [(train seed, its JSON)], seed
    order, for each row with at least one `…_train_seed_<s>` JSON beside it."""
    groups: dict[str, list[tuple[int, dict]]] = {}
    for path in sorted(results.glob("*.json")):
        found = SEEDED.match(path.stem)
        if found:
            base = found["base"] + (found["swm"] or "")
            groups.setdefault(base, []).append((int(found["seed"]), read_json(path)))
    for base, rows in groups.items():
        preset_row = results / f"{base}.json"
        if preset_row.exists():
            data = read_json(preset_row)
            rows.append((int(data["config"]["train"].get("seed", 0)), data))
        rows.sort(key=lambda row: row[0])
    return groups


def render_seeds(results: Path) -> list[str]:
    """Markdown lines: for each row trained with several seeds, every seed's success, all their
    episodes pooled with a 95 % interval, and the spread between seeds ([] when none). A seed
    row whose settings differ from the group's first row in more than the seed is named and
    left out of the pool."""
    from monde.eval.goal_reaching import wilson_interval

    lines, apart = [], []
    for base, group in seed_groups(results).items():
        reference = _settings(group[0][1])
        rows = []
        for seed, data in group:
            settings = _settings(data)
            differ = sorted(
                key
                for key in reference.keys() | settings.keys()
                if reference.get(key) != settings.get(key)
            )
            if differ:
                apart.append(f"{base}, train seed {seed}: also differs in {', '.join(differ)}")
            else:
                rows.append((seed, data))
        planners = [data["results"]["planner"] for _, data in rows]
        wins = [p["successes"] for p in planners]
        episodes = [p["episodes"] for p in planners]
        won, tried = sum(wins), sum(episodes)
        low, high = wilson_interval(won, tried)
        rates = [w / n for w, n in zip(wins, episodes, strict=True)]
        each = ", ".join(
            f"{seed}: {_pct(rate)}" for (seed, _), rate in zip(rows, rates, strict=True)
        )
        # the pooled count and a tenth of a point: a rate just under a bar must not read as on it
        pooled = f"{won} / {tried} = {100 * won / tried:.1f} %"
        lines.append(
            f"| {base} | {each} | {pooled} ({_pct(low)} – {_pct(high)}) | "
            f"{100 * (max(rates) - min(rates)):.0f} points | {tried} |"
        )
    if not lines:
        return []
    return [
        "## Training seeds",
        "",
        "Rows trained once per seed (`--train-seeds`) on the same episodes and evaluated on the "
        "same held-out episodes. A single row's interval counts only its evaluation episodes; "
        "the spread between seeds is what training adds. The pooled rate (every seed's "
        "episodes together) estimates the recipe's; its interval, too, counts episodes, not "
        "seeds. Rows are pooled when their settings match but for the seed and what only "
        "picks where and how fast they ran (threads, device, torch.compile, collection "
        "workers); on different machines they may have trained in different precisions, "
        "which the table above names per row.",
        "",
        "| row | success per training seed | pooled (95 % CI) | spread (max − min) | episodes |",
        "|---|---|---|---|---|",
        *lines,
        "",
        *(["Not pooled: " + "; ".join(apart) + ".", ""] if apart else []),
    ]


def write_curves(results: Path, figures: Path) -> list[str]:
    """One PNG of training losses and probe R² per trained run (its monde and swm rows share
    it) → Markdown lines that show them."""
    from monde.report.plots import training_curves  # matplotlib only when curves are drawn

    lines, drawn = [], set()
    for path in sorted(results.glob("*.json")):
        data = read_json(path)
        rows = data.get("learning_curve")
        run = path.stem.removesuffix("_swm")  # both protocols of a run share its training
        if not rows or run in drawn:
            continue
        drawn.add(run)
        figures.mkdir(parents=True, exist_ok=True)
        png = figures / f"{run}_training.png"
        png.write_bytes(training_curves(rows, data.get("success_curve")))
        lines += [
            f"### {run}",
            "",
            f"![training curves of {run}]({figures.name}/{png.name})",
            "",
        ]
    return lines


def write_doc(results: Path, doc: Path) -> None:
    """docs/benchmarks.md from the bench JSONs: the table, training curves, the command."""
    curves = write_curves(results, doc.parent / doc.stem)
    text = "\n".join(
        [
            "# Benchmarks",
            "",
            "Generated by `monde bench ENV… --budget quick|full|large [--protocol monde|swm] "
            "[--inputs rgb rgb+proprio rgb+depth rgb+proprio+depth] [--train-seeds SEED…]` from "
            f"`{results}/*.json`; do not edit by hand. Protocols: `monde` (start and goal sampled "
            "by the environment on held-out seeds) and `swm` (stable-worldmodel's: goal 25 steps "
            "ahead on a trajectory of the collection policy, 50 episodes, 50-step budget). "
            "`train min` is the training loop's time over every resume of the run; `total min` "
            "adds collection and evaluation as each was measured; both are wall-clock times on "
            "the machine that ran the row, slower where two rows shared its cores. `planner`: "
            "solver, samples × iterations, horizon in model steps, and waypoint subgoals from "
            "the first N training episodes where used (docs/planning.md). `machine, training "
            "precision`: the CPU (or GPU) that ran the row and the precision its training "
            "computed in, as its results JSON records them.",
            "",
            render_table(results),
            "",
            *render_seeds(results),
            *(
                [
                    "## Training curves",
                    "",
                    "Losses and held-out linear-probe R² logged in "
                    "training (`learning_curve` in each JSON) and, for rows run with "
                    "`--success-curve EPISODES`, success of every checkpoint "
                    "(`success_curve`). After a dotted line post-training starts: its probes "
                    "are fitted and scored on the post-training episodes, so where it keeps "
                    "the encoder frozen (bit-equal) a change in probe R² there comes from "
                    "those episodes, not from the encoder.",
                    "",
                    *curves,
                ]
                if curves
                else []
            ),
        ]
    )
    atomic_write_text(doc, text)
