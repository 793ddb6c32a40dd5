"""A robot loop over HTTP: drive a built-in environment to its goals with `monde serve`.

    MONDE_SERVE_TOKEN=secret monde serve --config configs/serve.yaml &
    MONDE_SERVE_TOKEN=secret python examples/robot_loop.py --run runs/demo --episodes 100

Each episode is what `monde eval` runs in-process, over HTTP instead: the same environment,
the same seeds (eval.seed + i), goals and step budget from the run's config; the server plans
with the same MPC settings. The "robot" sends its camera frame (and proprioception, where the
model reads it) and applies the `frameskip` environment actions it gets back, until it reaches
its goal or runs out of steps. Episodes run concurrently (`--concurrency`), one client each, as
several robots would share one server.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from pathlib import Path

import numpy as np

from monde.client import MondeClient
from monde.config import RunConfig
from monde.config_io import load_config
from monde.envs.registry import close_env
from monde.eval.goal_reaching import summarise
from monde.eval.protocols import evaluation_env


def run_episode(client: MondeClient, model: str, cfg: RunConfig, seed: int) -> tuple[bool, int]:
    """One episode over HTTP → (success, env steps to success: 0 if solved at the start)."""
    env = evaluation_env(cfg.env, cfg.eval, 1, cfg.data.policy)
    try:
        frame = env.reset([seed])[0]
        if env.is_success()[0]:
            return True, 0
        columns = None
        info = client.models()
        served = next(m for m in info if m["name"] == model)
        if served["proprio"]:  # the model's proprioception: named state columns
            columns = [list(env.state_names).index(name) for name in served["proprio"]]
        goal_p = None if columns is None else env.goal_state()[0, columns]
        t, fs, max_steps = 0, served["frameskip"], cfg.eval.max_steps
        with client.start(model, env.goal_rgb()[0], goal_p) as session:
            for _ in range(math.ceil(max_steps / fs)):
                proprio = None if columns is None else env.state()[0, columns]
                result = session.act(frame, proprio)
                for action in result.env_actions[: max_steps - t]:  # (frameskip, env_action_dim)
                    frame = env.step(action[None])[0]
                    t += 1
                    if env.is_success()[0]:
                        return True, t
                if t >= max_steps:
                    break
        return False, max_steps
    finally:
        close_env(env)


def run_robots(
    url: str, token: str | None, model: str, cfg: RunConfig, episodes: int, concurrency: int
) -> dict:
    """`episodes` episodes (seeds eval.seed + i), `concurrency` at a time → the success row of
    `monde eval` (monde.eval.goal_reaching.summarise) plus wall time and acts."""
    seeds = [cfg.eval.seed + i for i in range(episodes)]
    success, steps = np.zeros(episodes, bool), np.zeros(episodes, np.int64)
    errors: list[str] = []
    next_index = iter(range(episodes))
    lock = threading.Lock()

    def robot() -> None:
        client = MondeClient(url, token=token)
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            try:
                success[i], steps[i] = run_episode(client, model, cfg, seeds[i])
            except Exception as err:  # reported, counted as a failure
                errors.append(f"episode {i}: {err}")
                steps[i] = cfg.eval.max_steps

    clock = time.perf_counter()
    threads = [threading.Thread(target=robot) for _ in range(min(concurrency, episodes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    row = summarise(success, steps, [])
    row.update(wall_s=time.perf_counter() - clock, errors=errors, concurrency=concurrency)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8765")
    parser.add_argument("--token", default=None, help="default: $MONDE_SERVE_TOKEN")
    parser.add_argument("--model", default="demo", help="a model name the server serves")
    parser.add_argument("--run", type=Path, default=Path("runs/demo"), help="run: env, seeds")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None, help="write the row as JSON")
    args = parser.parse_args()
    cfg = load_config(RunConfig, args.run / "config.yaml", [])
    row = run_robots(args.url, args.token, args.model, cfg, args.episodes, args.concurrency)
    print(json.dumps(row, indent=1))
    if args.out is not None:
        args.out.write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
