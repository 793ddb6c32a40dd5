"""Minari import checked against the upstream `minari` package's own reader.

    pip install --target /tmp/minari_pkg --no-deps minari    # no jax needed to write buffers
    PYTHONPATH=/tmp/minari_pkg python benchmarks/import_compat.py

Writes a small pixel dataset with minari itself in each of its layouts (hdf5, arrow, parquet),
JPEG-encoded (minari's default) and raw, imports each with `monde data convert`, and compares
what the store holds with what `minari.load_dataset(...).iterate_episodes()` returns: frames,
actions, states, rewards, terminations and truncations, bit for bit. Records the result per
variant in benchmarks/results/import_compat.json.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monde.data.convert import convert  # noqa: E402
from monde.data.store import EpisodeStore  # noqa: E402
from monde.io import atomic_write_json  # noqa: E402
from monde.report import provenance  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "import_compat.json"


def frame(t: int, e: int) -> np.ndarray:
    """48×48 RGB: a colour ramp over time and a moving bright block (JPEG-friendly)."""
    img = np.zeros((48, 48, 3), np.uint8)
    img[..., 0] = (40 * t + 60 * e) % 256
    img[..., 1] = np.arange(48, dtype=np.uint8)[None, :] * 5
    img[10:20, 5 + 3 * t : 15 + 3 * t] = 200
    return img


def buffers(episode_buffer) -> list:
    out = []
    for e, steps in enumerate((5, 7, 6)):
        obs = {
            "pixels": [frame(t, e) for t in range(steps + 1)],
            "pos": [np.array([t / 10, e], np.float32) for t in range(steps + 1)],
        }
        out.append(
            episode_buffer(
                id=e,
                observations=obs,
                actions=[np.array([0.1 * t, -0.1 * e], np.float32) for t in range(steps)],
                rewards=[float(t) * 0.5 for t in range(steps)],
                terminations=[t == steps - 1 for t in range(steps)],
                truncations=[False] * steps,
            )
        )
    return out


def main() -> None:
    try:
        import minari
        from minari.data_collector import EpisodeBuffer
    except ImportError:
        sys.exit("needs the minari package: see this script's docstring")
    from gymnasium import spaces

    obs_space = spaces.Dict(
        {
            "pixels": spaces.Box(0, 255, (48, 48, 3), np.uint8),
            "pos": spaces.Box(-1, 10, (2,), np.float32),
        }
    )
    act_space = spaces.Box(-1, 1, (2,), np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MINARI_DATASETS_PATH"] = str(Path(tmp) / "datasets")
        for layout in ("hdf5", "arrow", "parquet"):
            for jpeg in (True, False):
                name = f"compat/pix-{layout}{'' if jpeg else '-raw'}-v0"
                dataset = minari.create_dataset_from_buffers(
                    name,
                    buffers(EpisodeBuffer),
                    observation_space=obs_space,
                    action_space=act_space,
                    algorithm_name="scripted",
                    author="monde",
                    author_email="none",
                    description="import compatibility check",
                    data_format=layout,
                    jpeg_encoding=jpeg,
                )
                store = EpisodeStore(
                    convert(dataset.storage.data_path.parent, Path(tmp) / name, progress=False)
                )
                same = {
                    k: True
                    for k in (
                        "frames",
                        "actions",
                        "states",
                        "rewards",
                        "terminations",
                        "truncations",
                    )
                }
                for i, ep in enumerate(dataset.iterate_episodes()):
                    mine, extras = store[i], store.extras(i)
                    same["frames"] &= np.array_equal(mine.frames, ep.observations["pixels"])
                    same["actions"] &= np.array_equal(mine.actions, ep.actions)
                    same["states"] &= np.array_equal(mine.states, ep.observations["pos"])
                    for key in ("rewards", "terminations", "truncations"):
                        same[key] &= np.array_equal(extras[key][:-1], getattr(ep, key))
                rows.append(
                    {
                        "layout": layout,
                        "jpeg_encoding": jpeg,
                        "episodes": len(store),
                        "identical_to_minari": {k: bool(v) for k, v in same.items()},
                    }
                )
                print(rows[-1])
    result = {
        "what": "monde's Minari import vs minari's own reader on datasets minari wrote",
        "minari_version": minari.__version__,
        "variants": rows,
        "all_identical": all(all(r["identical_to_minari"].values()) for r in rows),
        "provenance": provenance(),
    }
    atomic_write_json(OUT, result)
    print(f"wrote {OUT}: all identical = {result['all_identical']}")


if __name__ == "__main__":
    main()
