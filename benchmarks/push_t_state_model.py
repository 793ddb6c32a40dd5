"""PushT: what does the planner reach when its model is learned, but sees the exact state?

A diagnostic, not a result row, between `push_t_true_dynamics.py` (the simulator itself as
the model: no learning, no vision) and the world models of docs/benchmarks.md (learned from
pixels). Here an MLP learns the dynamics from the training episodes' true states — pusher and
block pose, no pixels — and CEM plans with it under the simulator bound's pose cost
(`push_t_true_dynamics.pose_cost`). What it misses beside the simulator is what learning the
contact dynamics from this data costs; what the pixel world models miss beside it is what
seeing costs on top.

The MLP is the world models' predictor in state space: a residual MLP (`--width`, `--depth`),
input the state (positions / 512, the angle as cos and sin) and one model step's actions
(`frameskip` env actions), trained on one-step differences, standardised, with AdamW and a
cosine schedule. `--history 2` also gives it the state and actions of the model step before
(the pusher's speed, which its PD controller carries over, is not in one state). It reports
the held-out episodes' open-loop block error 1…5 model steps ahead, beside a model in which
nothing moves, and the planner's success on the Monde protocol's evaluation episodes (seeds
from `eval.seed`, never in the data) with the preset's CEM (`plan.*` of `--config`).

    monde collect --config configs/bench/push_t_full.yaml --out runs/data/push_t_full data.workers=2
    python benchmarks/push_t_state_model.py --data runs/data/push_t_full
writes benchmarks/results/experiments/push_t_state_model_2000.json (`--out` to change).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from push_t_true_dynamics import plan_episodes, pose_cost
from torch import Tensor, nn

from monde.config import RunConfig
from monde.config_io import load_config
from monde.data.store import EpisodeStore
from monde.envs.push_t import ARENA, PushTConfig, PushTTask, angle_gap
from monde.eval.goal_reaching import summarise
from monde.io import atomic_write_json
from monde.plan.solvers import CEMConfig, cem
from monde.report import provenance

ROOT = Path(__file__).resolve().parents[1]


def features(states: np.ndarray | Tensor):
    """States (..., 5) [pusher x, y, block x, y, angle] → (..., 6): positions / 512, cos, sin."""
    lib = torch if isinstance(states, Tensor) else np
    angle = states[..., 4:5]
    return lib.concatenate([states[..., :4] / ARENA, lib.cos(angle), lib.sin(angle)], -1)


def to_states(feats: Tensor) -> Tensor:
    """Features (..., 6) → states (..., 5)."""
    angle = torch.atan2(feats[..., 5], feats[..., 4])[..., None]
    return torch.cat([feats[..., :4] * ARENA, angle], -1)


def model_steps(
    store: EpisodeStore, ids: range, frameskip: int, symmetry: bool = False
) -> list[tuple]:
    """Episodes → (features (T+1, 6), actions (T, fs·2)) at the model step; with `symmetry`,
    each episode's 8 symmetric copies."""
    out = []
    for i in ids:
        ep = store[i]
        t = len(ep.actions) // frameskip
        s = ep.states[: t * frameskip + 1 : frameskip].astype(np.float32)  # (T+1, 5)
        a = ep.actions[: t * frameskip].reshape(t, -1).astype(np.float32)  # (T, fs·2)
        copies = symmetric_copies(s, a) if symmetry else [(s, a)]
        out += [(features(s_), a_) for s_, a_ in copies]
    return out


def symmetric_copies(states: np.ndarray, actions: np.ndarray) -> list[tuple]:
    """states (T+1, 5), actions (T, fs·2) → the 8 copies of the episode under the square arena's
    symmetries (rotations by k·90° about its centre, each also mirrored), which map PushT's
    physics onto itself: positions and action displacements turn with the arena, the block's
    angle turns with it, and a mirror image of the T is the T at the negated angle (the T is
    symmetric about its own axis, its centre of gravity on that axis)."""
    centre = ARENA / 2
    out = []
    for mirror in (False, True):
        for k in range(4):
            c, s = np.cos(k * np.pi / 2), np.sin(k * np.pi / 2)
            rot = np.array([[c, -s], [s, c]]) @ (np.diag([-1.0, 1.0]) if mirror else np.eye(2))
            st = states.astype(np.float64).copy()
            for cols in ((0, 1), (2, 3)):
                st[:, cols] = (states[:, cols] - centre) @ rot.T + centre
            st[:, 4] = (-states[:, 4] if mirror else states[:, 4]) + k * np.pi / 2
            act = (actions.reshape(len(actions), -1, 2) @ rot.T).reshape(actions.shape)
            out.append((st.astype(np.float32), act.astype(np.float32)))
    return out


class StateModel(nn.Module):
    """f_{t+1} = f_t + scale ⊙ MLP([f_t, a_t] (+ [f_{t−1}, a_{t−1}] with history 2))."""

    def __init__(self, action_dim: int, history: int, width: int, depth: int):
        super().__init__()
        self.history = history
        layers: list[nn.Module] = []
        size = history * (6 + action_dim)
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.ReLU()]
            size = width
        self.net = nn.Sequential(*layers, nn.Linear(size, 6))
        self.register_buffer("scale", torch.ones(6))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x) * self.scale

    def rollout(self, f0: Tensor, actions: Tensor, prev: tuple[Tensor, Tensor]) -> Tensor:
        """f0 (N, 6), actions (N, H, A), prev (f_{−1}, a_{−1}) (N, 6), (N, A) → (N, H, 6)."""
        f, (f_prev, a_prev), out = f0, prev, []
        for k in range(actions.shape[1]):
            x = [f, actions[:, k]] + ([f_prev, a_prev] if self.history == 2 else [])
            f, f_prev, a_prev = f + self(torch.cat(x, -1)), f, actions[:, k]
            out.append(f)
        return torch.stack(out, 1)


def windows(episodes: list[tuple], history: int) -> tuple[Tensor, Tensor]:
    """(inputs (N, history·(6 + A)), one-step differences (N, 6)) of every model step."""
    xs, ys = [], []
    for f, a in episodes:
        for t in range(history - 1, len(a)):
            x = [f[t], a[t]] + ([f[t - 1], a[t - 1]] if history == 2 else [])
            xs.append(np.concatenate(x))
            ys.append(f[t + 1] - f[t])
    return torch.tensor(np.array(xs)), torch.tensor(np.array(ys))


def fit(episodes: list[tuple], args: argparse.Namespace, action_dim: int) -> StateModel:
    torch.manual_seed(args.seed)
    x, y = windows(episodes, args.history)
    model = StateModel(action_dim, args.history, args.width, args.depth)
    model.scale.copy_(y.std(0) + 1e-6)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    for step in range(args.steps):
        idx = torch.randint(len(x), (args.batch,))
        loss = ((model(x[idx]) - y[idx]) / model.scale).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        if (step + 1) % 1000 == 0:
            print(f"step {step + 1}: loss {loss.item():.4f}", flush=True)
    return model.eval()


@torch.no_grad()
def open_loop_errors(model: nn.Module, episodes: list[tuple], horizon: int = 5) -> dict:
    """Held-out block error (RMSE px) and mean |angle error| (rad) 1…horizon model steps ahead,
    open loop from every other model step."""
    sq, ang = [[] for _ in range(horizon)], [[] for _ in range(horizon)]
    for f, a in episodes:
        f, a = torch.from_numpy(f), torch.from_numpy(a)
        starts = torch.arange(1, len(a) - horizon + 1, 2)  # a step before each start
        acts = torch.stack([a[t : t + horizon] for t in starts])  # (N, H, A)
        pred = to_states(model.rollout(f[starts], acts, (f[starts - 1], a[starts - 1])))
        true = to_states(torch.stack([f[t + 1 : t + 1 + horizon] for t in starts]))
        for k in range(horizon):
            sq[k] += (pred[:, k, 2:4] - true[:, k, 2:4]).square().sum(-1).tolist()
            ang[k] += angle_gap(pred[:, k, 4].numpy(), true[:, k, 4].numpy()).tolist()
    return {
        "block_rmse_px": [float(np.sqrt(np.mean(v))) for v in sq],
        "angle_mean_abs_rad": [float(np.mean(v)) for v in ang],
    }


class Still(nn.Module):
    """The model in which nothing moves: the baseline of the open-loop errors."""

    history = 1

    def rollout(self, f0: Tensor, actions: Tensor, prev) -> Tensor:
        return f0[:, None].expand(-1, actions.shape[1], -1)


class StateModelPlanner:
    """MPC with CEM whose model is the learned StateModel; the `run_episodes` policy protocol."""

    def __init__(self, model: StateModel, solver: CEMConfig, horizon: int, frameskip: int,
                 cfg: PushTConfig, seed: int) -> None:  # fmt: skip
        self.model, self.solver, self.horizon, self.fs = model, solver, horizon, frameskip
        self.cfg, self.seed, self.task = cfg, seed, PushTTask(cfg)
        self.plan_times: list[float] = []

    def start(self, env, frames: np.ndarray) -> None:
        self.env, self.goals = env, env.goal_state().astype(np.float64)
        self.generator = torch.Generator().manual_seed(self.seed)
        n, a = env.num_envs, self.fs * 2
        self.mean = torch.zeros(n, self.horizon, a)
        self.last = None  # the model step before: states (N, 5) and actions (N, A)
        self.last_action = torch.zeros(n, a)

    def _state_now(self) -> np.ndarray:
        return np.stack([self.task.get_state(e) for e in self.env.envs]).astype(np.float32)

    @torch.no_grad()
    def choose(self, m: int, active: np.ndarray | None = None) -> np.ndarray:
        start = time.perf_counter()
        now = torch.from_numpy(features(self._state_now()))  # (N, 6)
        prev = now if self.last is None else self.last  # at the start: at rest, no action
        rows = np.flatnonzero(active if active is not None else np.ones(len(now), bool))
        b, s = len(rows), self.solver.samples
        f0, f_prev, a_prev = now[rows], prev[rows], self.last_action[rows]
        goals = torch.from_numpy(self.goals[rows]).float()  # (b, 5)

        def cost_fn(actions: Tensor) -> Tensor:  # (b, S, H, A) → (b, S)
            flat = actions.reshape(b * s, *actions.shape[2:])  # (b·S, H, A)
            rep = lambda t: t.repeat_interleave(s, 0)  # noqa: E731  (b, ·) → (b·S, ·)
            pred = to_states(self.model.rollout(rep(f0), flat, (rep(f_prev), rep(a_prev))))
            cost = pose_cost(pred.numpy(), rep(goals)[:, None].numpy(), self.cfg, 0.0)
            return torch.from_numpy(cost).reshape(b, s)  # pred (b·S, H, 5) → (b, S)

        mean = self.mean[rows]
        result = cem(cost_fn, mean, torch.ones_like(mean), -1.0, 1.0, self.solver,
                     generator=self.generator)  # fmt: skip
        chosen = torch.zeros(len(now), self.fs * 2)
        chosen[rows] = result.actions[:, 0]
        shifted = torch.cat([result.actions[:, 1:], torch.zeros_like(result.actions[:, :1])], 1)
        self.mean[rows] = shifted
        self.last, self.last_action = now, chosen
        self.plan_times.append(time.perf_counter() - start)
        return chosen.numpy()

    def observe(self, frame: np.ndarray, block: np.ndarray, states: np.ndarray) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs/bench/push_t_full.yaml")
    parser.add_argument("--data", type=Path, required=True, help="a PushT store (monde collect)")
    parser.add_argument("--train-episodes", type=int, default=0, help="0: all but the held-out")
    parser.add_argument("--held-out", type=int, default=200, help="last episodes, for errors")
    parser.add_argument("--history", type=int, choices=(1, 2), default=1)
    parser.add_argument(
        "--symmetry", action="store_true", help="train on the 8 symmetric copies of each episode"
    )
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes planned")
    parser.add_argument("--plan-batch", type=int, default=25, help="episodes planned together")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    cfg = load_config(RunConfig, args.config, [])
    fs = cfg.model.frameskip
    store = EpisodeStore(args.data)
    n_train = args.train_episodes or len(store) - args.held_out
    if n_train + args.held_out > len(store):
        raise SystemExit(f"{args.data} holds {len(store)} episodes; asked for "
                         f"{n_train} + {args.held_out} held out")  # fmt: skip
    out = args.out or ROOT / (
        f"benchmarks/results/experiments/push_t_state_model_{n_train}"
        + ("_history_2" if args.history == 2 else "")
        + ("_symmetry" if args.symmetry else "") + ".json"
    )  # fmt: skip
    began = time.perf_counter()
    train = model_steps(store, range(n_train), fs, args.symmetry)
    held = model_steps(store, range(len(store) - args.held_out, len(store)), fs)
    model = fit(train, args, fs * 2)
    errors = {
        "model": open_loop_errors(model, held),
        "nothing_moves": open_loop_errors(Still(), held),
    }
    print(errors, flush=True)
    env_cfg = PushTConfig(**cfg.env.env_kwargs("eval"))
    solver = CEMConfig(samples=cfg.plan.samples, iterations=cfg.plan.iterations,
                       topk=cfg.plan.topk)  # fmt: skip
    row = None
    if args.episodes:
        successes, steps, times = plan_episodes(
            cfg,
            0,
            args.episodes,
            args.plan_batch,
            lambda: StateModelPlanner(model, solver, cfg.plan.horizon, fs, env_cfg, args.seed),
        )
        row = summarise(successes, steps, times)
    command = (
        f"python benchmarks/push_t_state_model.py --data {args.data} --history {args.history} "
        f"--width {args.width} --depth {args.depth} --steps {args.steps}"
        + (f" --train-episodes {args.train_episodes}" if args.train_episodes else "")
        + (" --symmetry" if args.symmetry else "")
        + (f" --episodes {args.episodes}" if args.episodes != 100 else "")
    )
    atomic_write_json(out, {
        "command": command,
        "config": str(args.config.relative_to(ROOT)),
        "data": {"store": str(args.data), "train_episodes": n_train, "held_out": args.held_out},
        "model": {"history": args.history, "symmetry": args.symmetry, "width": args.width,
                  "depth": args.depth, "steps": args.steps, "batch": args.batch, "seed": args.seed},
        "open_loop_held_out": errors,
        "planner": {"solver": "cem", "horizon": cfg.plan.horizon, "frameskip": fs,
                    "samples": solver.samples, "iterations": solver.iterations,
                    "topk": solver.topk, "cost": "block pose, as push_t_true_dynamics.py",
                    "max_steps": cfg.eval.max_steps},
        "seeds": [cfg.eval.seed, cfg.eval.seed + args.episodes - 1],
        "results": row,
        "episode_success": successes.tolist() if row else [],
        "seconds": time.perf_counter() - began,
        "provenance": provenance(),
    })  # fmt: skip
    print(f"{row['successes']} / {row['episodes']} reached" if row else "not planned", f"→ {out}")


if __name__ == "__main__":
    main()
