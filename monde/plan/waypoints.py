"""Waypoints: a graph of remembered latents that turns a far goal into a near subgoal.

A planner that greedily lowers the latent distance to the goal stalls behind a wall: around it
the distance must first grow. The waypoint graph (in the spirit of semi-parametric topological
memory and search on the replay buffer) holds the latents of frames the agent has seen in its
training episodes, taken one model step apart. Two nodes are joined when one followed the other
in an episode, or when their latents are as close as consecutive ones usually are. Breadth-first
search from the node nearest the goal gives every node its number of model steps to the goal;
each replanning call then aims the MPC at the node `lookahead` steps down that path from the
node nearest the current latent, or at the goal itself once it is that close.

Pure tensors and numpy: it knows nothing about environments, files or the model.
Shape letters: N nodes, D latent dims, B episodes.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch
from torch import Tensor

UNREACHED = np.iinfo(np.int64).max


class WaypointGraph:
    """Nodes are latents (N, D); edges join consecutive frames and near-identical latents."""

    def __init__(
        self,
        latents: Tensor,
        episode_ids: np.ndarray,
        neighbours: int = 8,
        radius_quantile: float = 0.5,
    ) -> None:
        """latents (N, D) in episode order, one model step apart; episode_ids (N,) int.

        Besides its episode neighbours, each node is joined to up to `neighbours` nearest
        latents lying within the `radius_quantile` quantile of the consecutive-step distances.
        """
        ids = np.asarray(episode_ids)
        if latents.ndim != 2 or len(latents) != len(ids):
            raise ValueError(
                f"latents must be (N, D) with one episode id each; got {tuple(latents.shape)} "
                f"latents and {len(ids)} ids"
            )
        if len(ids) < 2:
            raise ValueError("a waypoint graph needs at least two latents")
        self.latents = latents.float()  # (N, D)
        n = len(ids)
        links: list[set[int]] = [set() for _ in range(n)]
        follows = np.flatnonzero(ids[1:] == ids[:-1])  # i where node i + 1 follows node i
        for i in follows:
            links[i].add(i + 1)
            links[i + 1].add(i)
        steps = (self.latents[follows + 1] - self.latents[follows]).norm(dim=1)  # (F,)
        self.radius = float(torch.quantile(steps, radius_quantile)) if len(steps) else 0.0
        for first in range(0, n, 1024):  # (chunk, N) distances at a time
            dist = torch.cdist(self.latents[first : first + 1024], self.latents)
            near = dist.topk(min(neighbours + 1, n), largest=False)
            for row, (idx, d) in enumerate(zip(near.indices, near.values, strict=True)):
                i = first + row
                for j in idx[d <= self.radius].tolist():
                    if j != i:
                        links[i].add(j)
                        links[j].add(i)
        self.links = [np.fromiter(s, dtype=np.int64, count=len(s)) for s in links]

    def __len__(self) -> int:
        return len(self.latents)

    def nearest(self, z: Tensor) -> np.ndarray:
        """z (B, D) → index (B,) of each latent's nearest node."""
        return torch.cdist(z.float().cpu(), self.latents).argmin(dim=1).numpy()

    def hops_to(self, target: int) -> np.ndarray:
        """(N,) model steps from every node to node `target` (UNREACHED where no path)."""
        hops = np.full(len(self), UNREACHED, dtype=np.int64)
        hops[target] = 0
        queue = deque([target])
        while queue:
            node = queue.popleft()
            for nxt in self.links[node]:
                if hops[nxt] == UNREACHED:
                    hops[nxt] = hops[node] + 1
                    queue.append(nxt)
        return hops

    def step_towards(self, node: int, hops: np.ndarray, lookahead: int) -> int:
        """The node `lookahead` steps from `node` along a shortest path of `hops` (hops_to)."""
        for _ in range(lookahead):
            if hops[node] in (0, UNREACHED):
                break
            nxt = self.links[node]
            node = int(nxt[np.argmin(hops[nxt])])
        return node


class SubgoalSelector:
    """Per episode, the latent a replanning call should aim at: a waypoint or the goal."""

    def __init__(self, graph: WaypointGraph, lookahead: int) -> None:
        if lookahead < 1:
            raise ValueError(f"plan.waypoint_lookahead must be ≥ 1, got {lookahead}")
        self.graph, self.lookahead = graph, lookahead

    def reset(self, z_goal: Tensor) -> None:
        """z_goal (B, D): search, once per episode, every node's steps to the goal's node."""
        self.z_goal = z_goal
        self.hops = [self.graph.hops_to(int(g)) for g in self.graph.nearest(z_goal)]

    def subgoals(self, z_now: Tensor, rows: Tensor | None = None) -> Tensor:
        """z_now (b, D) of episodes `rows` (all B if None) → the latents (b, D) to aim at."""
        index = range(len(self.z_goal)) if rows is None else rows.tolist()
        here = self.graph.nearest(z_now)
        out = []
        for episode, node in zip(index, here, strict=True):
            hops = self.hops[episode]
            if hops[node] <= self.lookahead or hops[node] == UNREACHED:  # near, or no path
                out.append(self.z_goal[episode])
            else:
                waypoint = self.graph.step_towards(int(node), hops, self.lookahead)
                out.append(self.graph.latents[waypoint].to(self.z_goal))
        return torch.stack(out)  # (b, D)
