"""Any Gymnasium environment that renders `rgb_array`, as a Monde goal-reaching task.

The state is the flattened observation; success is a distance test on the observation dims the
user names (`success_dims`, all by default) with a threshold (`success_distance`). A goal is
drawn by a goal sampler after the reset with seed s, rendered, and the environment is reset with
s again, which returns it to the same start. Goal samplers (`goal_sampler`):

- `replay`: uniform random actions seeded by s run `goal_steps` steps; the state reached.
- `random_state`: a random state set directly, where the environment allows it: a MuJoCo env's
  hinge and slide joints drawn within their joint ranges (or around the reset pose,
  `goal_qpos_scale`), at rest, through its `set_state(qpos, qvel)`; a classic-control env's
  `state` drawn between `goal_state_low` and `goal_state_high`.
- `module.path:function` or `path/to/file.py:function`: your own, called as
  `function(env, rng) -> observation` with the Gymnasium env just reset and a seeded
  `numpy.random.Generator`; it leaves `env` showing the goal and returns the goal's observation.

Every sampler is held to a minimum start–goal distance on the success dims
(`min_goal_distance`, by default `success_distance`: a goal that holds at the start is no
task); a goal that violates it is drawn again, up to `goal_tries` times, then a ValueError says
so. Frames are the environment's render, resized to `image_size` by nearest neighbour when it
renders another size (MuJoCo envs are asked for `image_size` frames directly). Arbitrary states
cannot be rendered (`render_states` raises). Knows nothing about models or torch.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monde.envs.gym_batch import GymBatch

GoalSampler = Callable[[Any, np.random.Generator], Any]
"""(Gymnasium env just reset, rng) → the goal's observation, the env left showing the goal"""


@dataclass
class GenericConfig:
    env_id: str = "Pendulum-v1"
    """the Gymnasium id to make (any environment with render_mode 'rgb_array')"""
    env_kwargs: dict = field(default_factory=dict)
    """keyword arguments for gymnasium.make"""
    image_size: int = 64
    """frames are resized (nearest neighbour) to image_size x image_size RGB"""
    goal_sampler: str = "replay"
    """how goals are drawn: 'replay', 'random_state', or your function as 'pkg.module:fn' or
    'path/to/file.py:fn' (called fn(env, rng) → goal observation; module docstring)"""
    goal_steps: int = 25
    """replay: the goal is the state reached after this many random-policy steps from the start"""
    goal_state_low: tuple[float, ...] = ()
    """random_state on an env with a `state` attribute (classic control): its lower bounds"""
    goal_state_high: tuple[float, ...] = ()
    """… and upper bounds; a dim with equal bounds is set to that value"""
    goal_joints: tuple[str, ...] = ()
    """random_state on a MuJoCo env: the joints drawn (empty: every hinge and slide joint); the
    others keep their reset values"""
    goal_qpos_scale: float = math.inf
    """random_state on a MuJoCo env: joints drawn within ± this of the reset pose (and within
    their joint range); an unlimited joint needs it finite"""
    success_dims: tuple[int, ...] = ()
    """observation dims compared by the success test (empty: all)"""
    success_distance: float = 0.1
    """success if those dims are closer than this (Euclidean) to the goal's"""
    min_goal_distance: float | None = None
    """goals lie at least this far from the start on the success dims (None: success_distance)"""
    goal_tries: int = 100
    """goals drawn per episode before giving up on min_goal_distance"""

    def __post_init__(self) -> None:
        self.success_dims = tuple(int(d) for d in self.success_dims)
        self.goal_state_low = tuple(float(v) for v in self.goal_state_low)
        self.goal_state_high = tuple(float(v) for v in self.goal_state_high)
        self.goal_joints = tuple(str(j) for j in self.goal_joints)
        if self.goal_steps < 1:
            raise ValueError(f"env.options.goal_steps must be ≥ 1, got {self.goal_steps}")
        if self.goal_tries < 1:
            raise ValueError(f"env.options.goal_tries must be ≥ 1, got {self.goal_tries}")
        if len(self.goal_state_low) != len(self.goal_state_high) or any(
            lo > hi for lo, hi in zip(self.goal_state_low, self.goal_state_high, strict=True)
        ):
            raise ValueError(
                "env.options.goal_state_low and goal_state_high must have the same length with "
                f"low ≤ high, got {list(self.goal_state_low)} and {list(self.goal_state_high)}"
            )
        if self.min_goal_distance is None:
            self.min_goal_distance = self.success_distance
        if not self.min_goal_distance >= 0 or not self.goal_qpos_scale > 0:
            raise ValueError("env.options.min_goal_distance must be ≥ 0 and goal_qpos_scale > 0")
        if self.goal_sampler not in ("replay", "random_state") and ":" not in self.goal_sampler:
            raise ValueError(
                f"env.options.goal_sampler {self.goal_sampler!r}: use 'replay', 'random_state', "
                "'pkg.module:function' or 'path/to/file.py:function'"
            )


def resize_nearest(frame: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) → (size, size, 3) by nearest-neighbour sampling."""
    rows = (np.arange(size) * frame.shape[0] // size).clip(0, frame.shape[0] - 1)
    cols = (np.arange(size) * frame.shape[1] // size).clip(0, frame.shape[1] - 1)
    return frame[rows][:, cols]


def make_gym_env(env_id: str, **kwargs: Any) -> Any:
    """gymnasium.make(env_id, **kwargs); an unknown id → one-line ValueError naming
    env.options.env_id and the closest registered ids."""
    import gymnasium as gym

    if env_id not in gym.registry:
        try:  # a namespaced id ("ale_py:…") or a module to import first: let gymnasium try
            return gym.make(env_id, **kwargs)
        except (gym.error.Error, ImportError):
            pass
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.5)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else " (gymnasium.pprint_registry() lists them)"
        )
        raise ValueError(
            f"env.options.env_id: {env_id!r} is not a registered Gymnasium environment{hint}"
        ) from None
    return gym.make(env_id, **kwargs)


def load_goal_sampler(spec: str) -> GoalSampler:
    """'pkg.module:fn' or 'path/to/file.py:fn' → the function; a clear error naming
    env.options.goal_sampler otherwise."""
    where, _, name = spec.rpartition(":")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.exists():
                raise FileNotFoundError(f"no file {path}")
            module_spec = importlib.util.spec_from_file_location(f"_monde_goals_{path.stem}", path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
        fn = getattr(module, name)
    except (ImportError, AttributeError, FileNotFoundError) as err:
        raise ValueError(f"env.options.goal_sampler {spec!r}: cannot load it ({err})") from None
    if not callable(fn):
        raise ValueError(f"env.options.goal_sampler {spec!r} is not a function")
    return fn


def _is_mujoco(env: Any) -> bool:
    unwrapped = env.unwrapped
    return all(hasattr(unwrapped, a) for a in ("set_state", "init_qpos", "model", "data"))


def _observation(unwrapped: Any) -> np.ndarray:
    """The observation of an env whose state was just set (its own `_get_obs`, or `state`)."""
    if hasattr(unwrapped, "_get_obs"):
        return np.asarray(unwrapped._get_obs())
    return np.asarray(unwrapped.state, dtype=np.float32)


class GenericTask:
    """A `GymTask` for an arbitrary Gymnasium environment with a Box action space."""

    def __init__(self, cfg: GenericConfig) -> None:
        import gymnasium as gym

        self.cfg = cfg
        probe = make_gym_env(cfg.env_id, **cfg.env_kwargs)
        space = probe.action_space
        if not isinstance(space, gym.spaces.Box) or not np.isfinite(space.low).all():
            raise ValueError(
                f"{cfg.env_id}: Monde needs a bounded continuous (Box) action space, got {space}"
            )
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.action_dim = int(np.prod(space.shape))
        obs, _ = probe.reset(seed=0)
        self.state_names = tuple(f"obs{i}" for i in range(np.asarray(obs).size))
        bad = [d for d in cfg.success_dims if not 0 <= d < len(self.state_names)]
        if bad:
            raise ValueError(
                f"env.options.success_dims {bad}: {cfg.env_id} has observation dims "
                f"0–{len(self.state_names) - 1}"
            )
        self.mujoco = _is_mujoco(probe)
        self.sampler = self._sampler(probe)
        probe.close()

    def _sampler(self, probe: Any) -> GoalSampler:
        cfg = self.cfg
        if cfg.goal_sampler == "replay":
            return self._replay
        if cfg.goal_sampler != "random_state":
            user = load_goal_sampler(cfg.goal_sampler)
            return lambda env, rng: user(env.env, rng)  # the Gymnasium env, not our wrapper
        if self.mujoco:
            self._joints = self._goal_joints(probe.unwrapped)
            return self._random_mujoco_state
        state = getattr(probe.unwrapped, "state", None)
        if state is None:
            raise ValueError(
                f"env.options.goal_sampler random_state: {cfg.env_id} is neither a MuJoCo env nor "
                "one with a `state` attribute; use 'replay' or your own function"
            )
        if len(cfg.goal_state_low) != np.asarray(state).size:
            raise ValueError(
                f"env.options.goal_state_low/high: random_state on {cfg.env_id} needs "
                f"{np.asarray(state).size} bounds each (its `state`), got "
                f"{len(cfg.goal_state_low)}"
            )
        return self._random_classic_state

    def _goal_joints(self, unwrapped: Any) -> list[tuple[int, float, float]]:
        """(qpos address, low, high) of each joint a random_state goal draws."""
        import mujoco

        model, cfg = unwrapped.model, self.cfg
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in range(model.njnt)]
        movable = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
        unknown = [n for n in cfg.goal_joints if n not in names]
        if unknown:
            raise ValueError(
                f"env.options.goal_joints {unknown}: {cfg.env_id}'s joints are {names}"
            )
        chosen = []
        for j, name in enumerate(names):
            if cfg.goal_joints and name not in cfg.goal_joints:
                continue
            if int(model.jnt_type[j]) not in movable:
                if cfg.goal_joints:
                    raise ValueError(f"env.options.goal_joints: {name!r} is not a hinge or slide")
                continue
            adr = int(model.jnt_qposadr[j])
            init = float(unwrapped.init_qpos[adr])
            low, high = init - cfg.goal_qpos_scale, init + cfg.goal_qpos_scale
            if model.jnt_limited[j]:
                low, high = max(low, model.jnt_range[j, 0]), min(high, model.jnt_range[j, 1])
            elif not math.isfinite(cfg.goal_qpos_scale):
                if cfg.goal_joints:
                    raise ValueError(
                        f"env.options.goal_joints: {name!r} has no joint range; set "
                        "env.options.goal_qpos_scale"
                    )
                continue  # an unlimited joint (a free-floating body's x) keeps its reset value
            chosen.append((adr, float(low), float(high)))
        if not chosen:
            raise ValueError(
                f"env.options.goal_sampler random_state: no joint of {cfg.env_id} to draw"
            )
        return chosen

    def make(self) -> Any:
        kwargs = dict(self.cfg.env_kwargs)
        if self.mujoco:  # render at the frame size, not 480 px then resize
            kwargs.setdefault("width", self.cfg.image_size)
            kwargs.setdefault("height", self.cfg.image_size)
        env = make_gym_env(self.cfg.env_id, render_mode="rgb_array", **kwargs)
        if self.mujoco:
            from monde.envs.mujoco_render import fast_render

            fast_render(env.unwrapped.model)
        return _LastObservation(env)

    def get_state(self, env: Any) -> np.ndarray:
        return np.asarray(env.last_obs, dtype=np.float64).ravel()

    def set_state(self, env: Any, state: np.ndarray) -> None:
        raise NotImplementedError(
            f"{self.cfg.env_id}: a generic Gymnasium environment cannot be put in a given state"
        )

    def _replay(self, env: Any, rng: np.random.Generator) -> Any:
        for _ in range(self.cfg.goal_steps):
            env.step(self.env_action(env, rng.uniform(-1.0, 1.0, self.action_dim)))
        return env.last_obs

    def _random_mujoco_state(self, env: Any, rng: np.random.Generator) -> np.ndarray:
        unwrapped = env.unwrapped
        qpos = unwrapped.data.qpos.copy()
        for adr, low, high in self._joints:
            qpos[adr] = rng.uniform(low, high)
        unwrapped.set_state(qpos, np.zeros_like(unwrapped.data.qvel))  # at rest
        return _observation(unwrapped)

    def _random_classic_state(self, env: Any, rng: np.random.Generator) -> np.ndarray:
        unwrapped = env.unwrapped
        low, high = np.array(self.cfg.goal_state_low), np.array(self.cfg.goal_state_high)
        unwrapped.state = rng.uniform(low, high)
        return _observation(unwrapped)

    def distance(self, state: np.ndarray, goal: np.ndarray) -> float:
        """Euclidean distance on the success dims."""
        dims = list(self.cfg.success_dims) or slice(None)
        return float(np.linalg.norm(np.asarray(state)[dims] - np.asarray(goal)[dims]))

    def make_goal(self, env: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        start = self.get_state(env)
        for attempt in range(cfg.goal_tries):
            if attempt:
                env.reset(seed=seed)  # every draw starts from the episode's start
            rng = np.random.default_rng(seed if attempt == 0 else (seed, attempt))
            obs = self.sampler(env, rng)
            goal = np.asarray(obs, dtype=np.float64).ravel()
            if goal.shape != start.shape:
                raise ValueError(
                    f"env.options.goal_sampler {cfg.goal_sampler!r} returned an observation of "
                    f"shape {goal.shape}; {cfg.env_id}'s is {start.shape}"
                )
            if self.distance(start, goal) >= cfg.min_goal_distance:
                frame = self.render(env)
                env.reset(seed=seed)  # back to the same start
                return goal, frame
        raise ValueError(
            f"{cfg.env_id}, seed {seed}: no goal at least env.options.min_goal_distance="
            f"{cfg.min_goal_distance} from the start on success_dims "
            f"{list(cfg.success_dims) or 'all'} in {cfg.goal_tries} draws of goal_sampler "
            f"{cfg.goal_sampler!r}; lower min_goal_distance or draw farther goals"
        )

    def is_success(self, state: np.ndarray, goal: np.ndarray) -> bool:
        return self.distance(state, goal) < self.cfg.success_distance

    def env_action(self, env: Any, action: np.ndarray) -> np.ndarray:
        scaled = self.low + (action + 1.0) * 0.5 * (self.high - self.low)
        return scaled.astype(np.float32).reshape(env.action_space.shape)

    def render(self, env: Any) -> np.ndarray:
        frame = np.asarray(env.render(), dtype=np.uint8)
        if frame.shape[:2] != (self.cfg.image_size, self.cfg.image_size):
            frame = resize_nearest(frame, self.cfg.image_size)
        return np.ascontiguousarray(frame)


class _LastObservation:
    """Wraps a Gymnasium env and remembers the observation of its last reset or step."""

    def __init__(self, env: Any) -> None:
        self.env, self.last_obs = env, None
        self.action_space = env.action_space

    @property
    def unwrapped(self) -> Any:
        return self.env.unwrapped

    def reset(self, **kwargs: Any) -> tuple:
        self.last_obs, info = self.env.reset(**kwargs)
        return self.last_obs, info

    def step(self, action: np.ndarray) -> tuple:
        out = self.env.step(action)
        self.last_obs = out[0]
        return out

    def render(self) -> np.ndarray:
        return self.env.render()

    def close(self) -> None:
        self.env.close()


def GenericGym(num_envs: int, cfg: GenericConfig | None = None) -> GymBatch:  # noqa: N802
    """`num_envs` copies of any Gymnasium environment behind Monde's Env protocol."""
    cfg = cfg or GenericConfig()
    return GymBatch(num_envs, GenericTask(cfg), cfg.image_size)
