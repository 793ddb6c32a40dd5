"""The environment an evaluation runs on, by protocol: Monde's own goals or recorded-trajectory
goals compatible with stable-worldmodel (`eval.protocol: swm`). Knows nothing about models."""

from __future__ import annotations

from monde.config import EnvConfig, EvalConfig
from monde.envs import Env, make_env
from monde.envs.policies import make_policy
from monde.envs.registry import collection_policy as resolved_policy
from monde.envs.replay_goals import ReplayGoals


def evaluation_env(
    env_cfg: EnvConfig, eval_cfg: EvalConfig, num_envs: int, collection_policy: str
) -> Env:
    """`num_envs` evaluation envs; with protocol 'swm', goals are `eval_cfg.goal_steps` steps of
    the collection policy `collection_policy` (data.policy) ahead of the start."""
    env = make_env(env_cfg.name, num_envs, **env_cfg.env_kwargs("eval"))
    if eval_cfg.protocol == "monde":
        return env
    policy_name = resolved_policy(env_cfg.name, collection_policy)  # 'auto': the env's own

    def policy(seed: int):
        return make_policy(policy_name, env, seed)

    return ReplayGoals(env, policy, eval_cfg.goal_steps)
