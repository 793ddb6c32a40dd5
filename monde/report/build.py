"""`monde report RUN_DIR`: one page that shows what a run's world model learned.

Loads the run (config.yaml, metrics.jsonl, model/, the episodes it trained on, a results JSON if
one exists), measures probes, rollout error and surprise (`monde.eval.understanding`), trains or
reuses the visualisation decoder on frozen latents, renders true-vs-imagined rollouts and a few
planned episodes, and writes RUN_DIR/report/{index.html, report.md, media/, understanding.json}.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from monde.config import RunConfig
from monde.config_io import ConfigError, load_config
from monde.data.lineage import training_data_of
from monde.data.splits import split_episodes
from monde.data.store import EpisodeStore
from monde.envs.registry import build_config, env_entry
from monde.eval.rollout_error import model_steps
from monde.eval.understanding import UnderstandingConfig, evaluate_understanding
from monde.io import atomic_write_json, read_json
from monde.models.checkpoint import load_model, weights_digest
from monde.models.decoder import (
    DECODER_FORMAT,
    DecoderConfig,
    LatentDecoder,
    load_decoder,
    reconstruction_quality,
    save_decoder,
    train_decoder,
)
from monde.models.world_model import WorldModel, encode_frames
from monde.progress import tqdm
from monde.report import plots
from monde.report.media import gif_bytes, side_by_side, upscale
from monde.report.page import Media, Section, write_report
from monde.report.planned import plan_settings, planned_media
from monde.report.tables import provenance, success_table
from monde.runs import read_metrics, training_dirs
from monde.types import Episode


@dataclass
class ReportOptions:
    train_episodes: int | None = None
    """cap on training episodes used for probes and the decoder (None: all)"""
    gif_episodes: int = 3
    """held-out episodes shown as true vs imagined rollouts"""
    planned_episodes: int = 2
    """evaluation episodes planned with MPC and shown with their goal images"""
    decoder_steps: int = 1000
    """training steps of the visualisation decoder (when none is saved for this model)"""
    decoder_frames: int = 8000
    """at most this many training frames for the decoder"""
    upscale: int = 3
    """pixel upscaling of frames in GIFs"""
    understanding: UnderstandingConfig = field(default_factory=UnderstandingConfig)


@dataclass
class Run:
    cfg: RunConfig
    model: WorldModel
    train: list[Episode]
    test: list[Episode]
    state_names: list[str]
    metrics: list[dict]
    run_dir: Path


class PhaseClock:
    """Wall and CPU seconds (this process, all threads) of consecutive phases."""

    def __init__(self) -> None:
        self.laps: dict[str, dict[str, float]] = {}
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        """Close the phase `name` (time since the previous lap)."""
        wall, cpu = time.perf_counter(), time.process_time()
        self.laps[name] = {"wall_s": wall - self._wall, "cpu_s": cpu - self._cpu}
        self._wall, self._cpu = wall, cpu


LEGACY_FORMAT = "monde.episodes/1"


def open_episodes(path: Path) -> tuple[int, Callable[[int], Episode], dict]:
    """An episode store → (count, index → Episode, info).

    Reads the native store, and read-only the earlier layout (meta.json + episodes/NNNNNN.npz,
    format "monde.episodes/1") that runs trained before the Zarr store still hold.
    """
    meta_path = path / "meta.json"
    if not (path / "zarr.json").exists() and meta_path.exists():
        meta = read_json(meta_path)
        if meta.get("format") != LEGACY_FORMAT:
            raise ValueError(f"{meta_path}: format {meta.get('format')!r} is not an episode store")

        def get(i: int) -> Episode:
            file = path / "episodes" / f"{i:06d}.npz"
            try:
                with np.load(file, allow_pickle=False) as data:
                    arrays = {k: data[k] for k in ("frames", "actions", "states")}
            except (OSError, KeyError, ValueError) as err:
                raise ValueError(f"{file}: unreadable episode ({err})") from err
            return Episode(**arrays, meta={"index": i})

        return int(meta["num_episodes"]), get, meta.get("info", {})
    store = EpisodeStore(path)
    return len(store), store.__getitem__, store.meta.get("info", {})


def load_run(
    run_dir: str | Path, data_dir: str | Path | None = None, train_cap: int | None = None,
    progress: bool = True,
) -> Run:  # fmt: skip
    """The run's config, model and episodes split as in training (train first, held-out last);
    `data_dir` defaults to the store the run was trained on."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.exists():
        raise FileNotFoundError(f"{config_path} not found: is {run_dir} a Monde run folder?")
    try:
        cfg = load_config(RunConfig, config_path)
    except ConfigError as err:
        raise ValueError(str(err)) from err
    model = load_model(run_dir / "model")
    if data_dir is None:  # the store training read (RUN/training_data.json), else RUN/data
        found = training_data_of(run_dir / "model")
        data_dir = found[0] if found is not None else run_dir / "data"
    data_path = Path(data_dir)
    count, get, info = open_episodes(data_path)
    split = len(split_episodes(range(count), cfg.data.val_fraction)[0])  # first held-out index
    if split == count:
        raise ValueError(f"{data_path}: no held-out episodes (data.val_fraction is 0)")
    n_train = split if train_cap is None else min(split, train_cap)
    indices = list(range(n_train)) + list(range(split, count))
    loaded = [get(i) for i in tqdm(indices, desc="load", unit="ep", disable=not progress)]
    names = list(info.get("state_names") or [])
    if not names:
        names = [f"s{i}" for i in range(loaded[0].states.shape[1])]
    # an ensemble's training curves are its first member's (monde.runs.training_dirs)
    metrics = read_metrics(training_dirs(run_dir, cfg.train.ensemble)[0] / "metrics.jsonl")
    return Run(cfg, model, loaded[:n_train], loaded[n_train:], names, metrics, run_dir)


def ensure_decoder(
    run: Run, opts: ReportOptions, progress: bool = True
) -> tuple[LatentDecoder, dict]:
    """RUN_DIR/decoder if trained on these model weights for ≥ decoder_steps, else a new one.

    The encoder runs once over the (at most decoder_frames) training frames; the decoder then
    trains on those cached latents. → (decoder, info); info["held_out"] is its reconstruction
    quality on every frame of the held-out episodes (`reconstruction_quality`).
    """
    directory = run.run_dir / "decoder"
    digest = weights_digest(run.run_dir / "model")
    decoder = None
    if (directory / "decoder.json").exists():
        meta = read_json(directory / "decoder.json")
        info = meta.get("info") or {}
        if meta.get("format") != DECODER_FORMAT:
            print(f"{directory} holds a decoder of format {meta.get('format')!r}, not "
                  f"{DECODER_FORMAT!r}; training a new decoder")  # fmt: skip
        elif info.get("model_sha256") != digest or info.get("steps", 0) < opts.decoder_steps:
            print(f"{directory} is for other model weights or fewer steps; training a new decoder")
        else:
            decoder, info = load_decoder(directory)
    if decoder is None:
        frames = np.concatenate([e.frames for e in run.train])  # (N, Hp, Wp, C)
        states = np.concatenate([e.states for e in run.train])  # (N, S)
        if len(frames) > opts.decoder_frames:
            pick = np.sort(
                np.random.default_rng(0).choice(len(frames), opts.decoder_frames, replace=False)
            )
            frames, states = frames[pick], states[pick]
        latents = encode_frames(run.model, frames, states)  # (N, D), once
        cfg = DecoderConfig(latent_dim=latents.shape[1], image_size=frames.shape[1])
        started = time.perf_counter(), time.process_time()
        decoder, losses = train_decoder(  # decodes colour only; a depth channel is not shown
            latents,
            np.ascontiguousarray(frames[..., :3]),
            cfg,
            steps=opts.decoder_steps,
            progress=progress,
            # explicit, not the current count: the same decoder whatever ran before in this
            # process. No setting fits: ReportOptions has none and train.threads (0: torch's
            # default) is the training's; one thread is train_decoder's reproducible choice
            threads=1,
        )
        tail = losses[-min(100, len(losses)) :]
        info = {
            "model_sha256": digest,
            "steps": opts.decoder_steps,
            "frames": len(frames),
            "final_loss": float(np.mean(tail)) if tail else None,
            "train_wall_s": time.perf_counter() - started[0],
            "train_cpu_s": time.process_time() - started[1],
        }
    test_frames = np.concatenate([e.frames for e in run.test])  # (M, Hp, Wp, C)
    test_states = np.concatenate([e.states for e in run.test])  # (M, S)
    z_test = encode_frames(run.model, test_frames, test_states)  # (M, D)
    info["held_out"] = reconstruction_quality(
        decoder, z_test, np.ascontiguousarray(test_frames[..., :3])
    )
    save_decoder(decoder, directory, info)
    return decoder, info


def decoder_table(quality: dict) -> str:
    """Held-out PSNR of the decoder beside an all-black image and the mean training frame."""
    rows = (("decoder(encoded true frame)", ""), ("mean training frame", "_mean_frame"),
            ("all-black image", "_black"))  # fmt: skip
    lines = ["| image | PSNR, all pixels | PSNR, moving pixels |", "|---|---|---|"]
    for name, key in rows:
        moving = quality.get(f"moving_psnr_db{key}")
        lines.append(
            f"| {name} | {_fmt(quality[f'psnr_db{key}'], 1)} dB | "
            f"{_fmt(moving, 1) + ' dB' if moving is not None else '–'} |"
        )
    return "\n".join(lines)


@torch.no_grad()
def rollout_media(
    model: WorldModel, decoder: LatentDecoder, episodes: list[Episode], opts: ReportOptions
) -> list[Media]:
    """GIFs: true frames | decoded encodings | decoded open-loop rollout from the first frame."""
    media = []
    c = model.history
    for i, ep in enumerate(episodes[: opts.gif_episodes]):
        frames, actions, states = model_steps(ep, model.frameskip)  # (M+1, ...), (M, A)
        z = encode_frames(model, frames, states)  # (M+1, D)
        a = torch.from_numpy(actions)[None]  # (1, M, A)
        pred = model.rollout(z[None, :c], a[:, c - 1 :], a_ctx=a[:, : c - 1])[0].float()
        imagined = torch.cat([z[:c], pred])  # (M+1, D): context, then predictions
        panels = [frames[..., :3], decoder.decode(z), decoder.decode(imagined)]  # RGB
        strip = side_by_side([upscale(p, opts.upscale) for p in panels])
        media.append(
            Media(
                f"rollout_{i}.gif",
                gif_bytes(strip),
                f"held-out episode {ep.meta.get('index', i)}, {len(frames) - 1} model steps: "
                "true frames | decoder(encoded true frames) | decoder(open-loop imagined "
                f"latents from frame 0 with the true actions)",
            )
        )
    return media


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def probe_table(probes: dict, pick_steps: tuple[int, ...]) -> str:
    kinds = list(probes["encoded"])
    names = list(probes["encoded"][kinds[0]])
    steps = [s for s in pick_steps if s <= len(probes["steps"])]
    head = ["state"] + [f"{k} R² encoded" for k in kinds]
    head += [f"{k} R² predicted +{s}" for k in kinds for s in steps]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in names:
        row = [n] + [_fmt(probes["encoded"][k][n]) for k in kinds]
        row += [_fmt(probes["predicted_refit"][k][s - 1][n]) for k in kinds for s in steps]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def rollout_table(err: dict, frameskip: int) -> str:
    side = "agent_wrong_side_fraction" in err
    # X_sq_error_share_wrong_side: X is the agent column the env's registry entry names
    share = next((k for k in err if k.endswith("_sq_error_share_wrong_side")), "")
    train = err.get("latent_train")  # the same rollouts on training episodes, where measured
    head = "| model steps ahead | env steps | latent error | agent position error |"
    rule = "|---|---|---|---|"
    if train:
        head += " latent error, training episodes |"
        rule += "---|"
    if side:
        col = share.removesuffix("_sq_error_share_wrong_side")
        head += f" predicted agent on the wrong side of the wall | its share of {col} SS |"
        rule += "---|---|"
    lines = [head, rule]
    pos = err.get("agent_position_error")
    for i, s in enumerate(err["steps"]):
        row = (
            f"| {s} | {s * frameskip} | {_fmt(err['latent'][i])} | "
            f"{_fmt(pos[i] if pos else None)} |"
        )
        if train:
            row += f" {_fmt(train[i])} |"
        if side:
            row += (
                f" {100 * err['agent_wrong_side_fraction'][i]:.1f} % | "
                f"{100 * err[share][i]:.0f} % |"
            )
        lines.append(row)
    return "\n".join(lines)


def surprise_table(surprise: dict) -> str:
    lines = [
        "| event | pairs | AUROC | paired accuracy | sign-test p | median score physical "
        "| median score impossible |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, r in surprise.items():
        lines.append(
            f"| {kind} | {r['pairs']} | {r['auroc']:.3f} | {r['paired_accuracy']:.2f} "
            f"| {r['sign_test_p']:.1e} | {r['score_physical_median']:.3f} "
            f"| {r['score_impossible_median']:.3f} |"
        )
    return "\n".join(lines)


def find_results(run_dir: Path, results: str | Path | None) -> dict | None:
    """The goal-reaching results JSON: `results`, else RUN_DIR/results.json, else None."""
    path = Path(results) if results is not None else run_dir / "results.json"
    if results is not None and not path.exists():
        raise FileNotFoundError(f"results JSON {path} not found")
    return read_json(path) if path.exists() else None


def build_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    opts: ReportOptions | None = None,
    results: str | Path | None = None,
    data_dir: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Measure and write the report; → {"html", "markdown", "understanding"} paths."""
    opts = opts or ReportOptions()
    clock = PhaseClock()
    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "report"
    run = load_run(run_dir, data_dir, opts.train_episodes, progress)
    clock.lap("load")
    model, fs = run.model, run.model.frameskip
    entry = env_entry(run.cfg.env.name)
    env_cfg = None  # the env's own config, for its surprise clips when its entry offers them
    if entry.surprise:
        env_cfg = build_config(entry.config_cls, run.cfg.env.env_kwargs("eval"))
    und, _ = evaluate_understanding(
        model, run.train, run.test, run.state_names, env_cfg, opts.understanding, progress,
        run.cfg.env.name,
    )  # fmt: skip
    und["provenance"] = provenance()
    clock.lap("understanding")
    decoder, dec_info = ensure_decoder(run, opts, progress)
    clock.lap("decoder")
    goal_results = find_results(run_dir, results)

    title = f"Monde report: {run_dir.name}"
    s_run = Section(
        "Run",
        text=(
            f"Run folder {run_dir}; model {run.cfg.model.predictor} predictor, latent "
            f"{model.latent_dim}, history {model.history}, frameskip {fs} (one model step = "
            f"{fs} environment steps). Episodes: {len(run.train)} for fitting probes and the "
            f"decoder, {len(run.test)} held out (the training run's held-out episodes) for every "
            f"score below.\n\nProvenance: {json.dumps(und['provenance'])}"
        ),
        code=(run_dir / "config.yaml").read_text(),
    )
    sections = [s_run]
    if run.metrics:
        sections.append(
            Section(
                "Training curves",
                media=[
                    Media(
                        "training.png",
                        plots.training_curves(run.metrics),
                        f"{len(run.metrics)} logged steps of {run_dir / 'metrics.jsonl'}",
                    )
                ],
            )  # fmt: skip
        )
    if goal_results is not None:
        sections.append(
            Section(
                "Goal reaching",
                text="Success at reaching environment-rendered goal images, from the results "
                "JSON of `monde eval` / `monde demo`.",
                table=success_table(goal_results["results"]),
            )
        )
    probes = und["probes"]
    sections.append(
        Section(
            "Probes: do the latents carry the physical state?",
            text=(
                "R² on held-out episodes of probes fitted on training episodes. 'encoded': "
                "latents of true frames. 'predicted +k': a probe fitted on latents predicted k "
                f"model steps ({fs}·k environment steps) ahead in open-loop rollouts."
            ),
            table=probe_table(probes, (1, 5, opts.understanding.horizon)),
            media=[Media("probes.png", plots.probe_plot(probes, fs), "probe R² by rollout step")],
        )
    )
    quality = dec_info["held_out"]
    sections.append(
        Section(
            "Visualisation decoder",
            text=(
                f"The GIFs below are drawn by a decoder trained on {dec_info.get('frames')} "
                f"frozen latents of training frames for {dec_info.get('steps')} steps (final "
                f"weighted MSE {_fmt(dec_info.get('final_loss'), 4)}); it is never part of the "
                f"JEPA loss. Saved in {run_dir / 'decoder'}. Its reconstruction quality on the "
                f"{quality['frames']} frames of the held-out episodes, decoder(encoder(frame)) "
                f"against the frame: PSNR {_fmt(quality['psnr_db'], 1)} dB over all pixels. "
                "Moving pixels are those where the true frame differs from the mean training "
                f"frame ({100 * quality['moving_pixel_fraction']:.2f} % of them): an image that "
                "shows only the static scene scores as low there as the baselines."
            ),
            table=decoder_table(quality),
        )
    )
    err = und["rollout_error"]
    sections.append(
        Section(
            "Open-loop rollouts",
            text=(
                "The model encodes the first frame and rolls out with the recorded actions. "
                "Latent error: ‖ẑ − z‖² over the mean squared spread of latents (about 2 means "
                "no better than an unrelated frame), on held-out episodes and, beside it, on "
                "training episodes (a training error far below the held-out one: the model fits "
                "its episodes more than the environment). State error: the linear probe of encoded "
                "latents applied to the predictions. GIFs: decoded by the visualisation decoder, "
                "trained afterwards on frozen latents."
            ),
            table=rollout_table(err, fs),
            media=[Media("rollout_error.png", plots.rollout_error_plot(err, fs), "error by step")]
            + rollout_media(model, decoder, run.test, opts),
        )
    )
    if "surprise" in und:
        sections.append(
            Section(
                "Surprise at impossible events",
                text=(
                    "Paired clips from the environment: identical until an event frame, after "
                    "which one follows the physics and the other does not. Surprise is the "
                    "normalised one-step prediction error; a clip's score is its largest "
                    "surprise; AUROC tells impossible from physical clips by that score."
                ),
                table=surprise_table(und["surprise"]),
                media=[
                    Media(
                        "surprise.png",
                        plots.surprise_plot(und["surprise"]),
                        "mean surprise around the event (log scale)",
                    )
                ],
            )  # fmt: skip
        )
    clock.lap("figures and rollout GIFs")
    sections.append(
        Section(
            "Planned episodes",
            text=f"MPC with the run's plan settings: {plan_settings(run.cfg)}. The episodes "
            "run as `monde eval` runs its first ones (same environment, seeds and planner).",
            media=planned_media(run.cfg, model, decoder, opts.planned_episodes, opts.upscale),
        )
    )
    clock.lap("planned episodes")
    und["decoder"] = dec_info
    paths = write_report(out_dir, title, sections)
    clock.lap("write")
    und["report_phases"] = clock.laps  # wall and CPU seconds of each phase of this report
    atomic_write_json(out_dir / "understanding.json", und)
    return {**paths, "understanding": out_dir / "understanding.json"}
