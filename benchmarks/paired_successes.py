"""Two evaluations on the same episodes, compared episode by episode: is B better than A?

Two success rates measured on the same evaluation seeds are not independent samples: most
episodes succeed (or fail) under both, and only the episodes where they differ carry evidence.
This reads two results JSONs that list their episodes (`benchmarks/push_t_failures.py` writes
them as `episodes`, each with its `seed` and `success`; `monde eval` and `monde bench` as the
planner row's `episode_seeds` and `succeeded_seeds`), pairs the episodes by seed, and writes
how many succeed under both, A only, B only and neither, with the exact two-sided sign test
(McNemar's exact test) on the discordant pairs: the chance of a split at least this uneven if
A and B were equally good.

    python benchmarks/paired_successes.py A.json B.json [A2.json B2.json …] \
        --out benchmarks/results/experiments/X.json

Several pairs, each evaluated on its own seeds, pool into one comparison.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from monde.io import atomic_write_json, read_json
from monde.report import provenance


def two_sided_sign_test(only_a: int, only_b: int) -> float:
    """Exact two-sided p of a split `only_a` : `only_b` of discordant pairs under Binomial(n,
    ½): twice the smaller tail, at most 1 (1 when there is no discordant pair)."""
    if only_a < 0 or only_b < 0:
        raise ValueError(f"counts must be ≥ 0, got {only_a} and {only_b}")
    n, low = only_a + only_b, min(only_a, only_b)
    tail = sum(math.comb(n, k) for k in range(low + 1)) / 2**n  # exact integers, then one division
    return min(1.0, 2.0 * tail)


def episode_successes(data: dict, name: str) -> dict[int, bool]:
    """A results JSON's scored episodes → {seed: success}; `name` labels errors. It lists them
    as `episodes` [{seed, success, steps}] (push_t_failures) or as the planner row's
    `episode_seeds` and `succeeded_seeds` (`monde eval` and `monde bench` since they record
    them). An episode at its goal before any action (steps 0) scores nothing in either, as in
    the success rate (monde.eval.goal_reaching.summarise)."""
    results = data.get("results", data)
    row = results.get("planner") if isinstance(results, dict) else None
    if "episodes" not in data and isinstance(row, dict) and "episode_seeds" in row:
        seeds, succeeded = list(row["episode_seeds"]), set(row.get("succeeded_seeds", []))
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"{name}: the planner row's episode_seeds repeat a seed")
        if not succeeded <= set(seeds):
            raise ValueError(f"{name}: succeeded_seeds names seeds not in episode_seeds")
        return {int(seed): seed in succeeded for seed in seeds}
    episodes = data.get("episodes")
    if not isinstance(episodes, list) or not episodes:
        raise ValueError(
            f"{name}: no field 'episodes' listing episodes (seed, success), nor the planner "
            "row's 'episode_seeds'"
        )
    out: dict[int, bool] = {}
    for i, episode in enumerate(episodes):
        if not isinstance(episode, dict) or "seed" not in episode or "success" not in episode:
            raise ValueError(f"{name}: episodes[{i}] lacks 'seed' or 'success'")
        if episode["seed"] in out:
            raise ValueError(f"{name}: episodes[{i}]: seed {episode['seed']} appears twice")
        if episode.get("steps") == 0 and episode["success"]:  # at its goal at the start
            continue
        out[int(episode["seed"])] = bool(episode["success"])
    return out


def paired_successes(a: dict[int, bool], b: dict[int, bool]) -> dict:
    """Episodes of A and B paired by seed → counts of both, A only, B only, neither, each one's
    successes and the sign test's p. Both must hold the same seeds."""
    if set(a) != set(b):
        missing = sorted(set(a) ^ set(b))
        raise ValueError(
            f"A and B hold different episodes: {len(missing)} seeds in one only "
            f"(first {missing[:5]}); compare evaluations of the same seeds"
        )
    both = sum(a[s] and b[s] for s in a)
    only_a = sum(a[s] and not b[s] for s in a)
    only_b = sum(b[s] and not a[s] for s in a)
    return {
        "episodes": len(a),
        "successes_a": both + only_a,
        "successes_b": both + only_b,
        "both": both,
        "only_a": only_a,
        "only_b": only_b,
        "neither": len(a) - both - only_a - only_b,
        "sign_test_p": two_sided_sign_test(only_a, only_b),
    }


def pooled_successes(files: list[Path]) -> tuple[dict[int, bool], dict[int, bool]]:
    """Pairs of results JSONs A1 B1 [A2 B2 …] → (A's episodes, B's episodes), each pooled over
    its files: evaluations on disjoint seed sets (the table's, the validation's) pool into one
    comparison; a seed in two of one side's files is refused."""
    if len(files) < 2 or len(files) % 2:
        raise ValueError(f"give results JSONs in pairs A B [A B …], got {len(files)}")
    sides: tuple[dict[int, bool], dict[int, bool]] = ({}, {})
    for i, path in enumerate(files):
        side = sides[i % 2]
        episodes = episode_successes(read_json(path), str(path))
        if overlap := sorted(set(side) & set(episodes)):
            raise ValueError(f"{path}: seed {overlap[0]} is also in another file of its side")
        side.update(episodes)
    return sides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "files",
        type=Path,
        nargs="+",
        help="results JSONs in pairs: A (the reference) then B, on the same seeds; several "
        "pairs (each on its own seeds) pool into one comparison",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    found = paired_successes(*pooled_successes(args.files))
    pairs = [[str(a), str(b)] for a, b in zip(args.files[::2], args.files[1::2], strict=True)]
    result = {"pairs": pairs, **found, "provenance": provenance()}
    atomic_write_json(args.out, result)
    print(
        f"A {found['successes_a']} / B {found['successes_b']} of {found['episodes']}: "
        f"A only {found['only_a']}, B only {found['only_b']}, p = {found['sign_test_p']:.3f}"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
