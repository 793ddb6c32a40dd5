"""Look at a dataset: a contact-sheet PNG and an animated GIF of sampled episodes (pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monde.data.store import EpisodeStore


def contact_sheet(episodes: list[np.ndarray], columns: int, pad: int = 2) -> np.ndarray:
    """One row per episode of `columns` evenly spaced frames → an (H, W, 3) uint8 image."""
    h, w = episodes[0].shape[1:3]
    sheet = np.full((len(episodes) * (h + pad) + pad, columns * (w + pad) + pad, 3), 255, np.uint8)
    for r, frames in enumerate(episodes):
        picks = np.linspace(0, len(frames) - 1, columns).round().astype(int)
        for c, t in enumerate(picks):
            y, x = pad + r * (h + pad), pad + c * (w + pad)
            sheet[y : y + h, x : x + w] = frames[t, ..., :3]  # colour (RGB-D: depth not shown)
    return sheet


def side_by_side(episodes: list[np.ndarray], pad: int = 2) -> np.ndarray:
    """Episodes played together, left to right → (T, H, W, 3); shorter ones hold their end."""
    length = max(len(e) for e in episodes)
    h, w = episodes[0].shape[1:3]
    video = np.full((length, h, len(episodes) * (w + pad) - pad, 3), 255, np.uint8)
    for i, frames in enumerate(episodes):
        x = i * (w + pad)
        video[:, :, x : x + w] = frames[np.minimum(np.arange(length), len(frames) - 1), ..., :3]
    return video


def view(
    store: EpisodeStore | str | Path,
    out: str | Path,
    episodes: int = 6,
    columns: int = 10,
    seed: int = 0,
    scale: int = 2,
    fps: float | None = None,
) -> dict[str, Path]:
    """Write out/contact_sheet.png and out/episodes.gif of `episodes` randomly chosen episodes."""
    from PIL import Image

    if not isinstance(store, EpisodeStore):
        store = EpisodeStore(store)
    ids = store.usable(range(len(store)))
    if not ids:
        raise ValueError(f"{store.path}: no episodes to view")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(ids, size=min(episodes, len(ids)), replace=False).tolist())
    frames = [store[i].frames for i in chosen]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sheet = Image.fromarray(contact_sheet(frames, columns))
    sheet = sheet.resize((sheet.width * scale, sheet.height * scale), Image.NEAREST)
    png, gif = out / "contact_sheet.png", out / "episodes.gif"
    sheet.save(png)
    clip = side_by_side(frames)
    images = [
        Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST)
        for f in clip
    ]
    rate = fps or store.meta["info"].get("fps") or 10.0
    images[0].save(gif, save_all=True, append_images=images[1:], duration=int(1000 / rate), loop=0)
    return {"png": png, "gif": gif, "episodes": chosen}
