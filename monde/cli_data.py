"""`monde data info | verify | repair | convert | view`: wiring from the command line to monde.data.

monde data info    DATA                     format, features, episode count, size, info
monde data verify  DATA                     re-hash every episode; exit 1 corrupt, 3 incomplete
monde data repair  DATA                     trim an interrupted append, quarantine corrupt ones
monde data convert SRC OUT [--from F] [--to T]   lerobot / minari / video / npz ↔ native
monde data view    DATA [--out DIR]         contact_sheet.png and episodes.gif
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _store(path: Path):
    from monde.data.store import EpisodeStore

    return EpisodeStore(path)


def cmd_info(args: argparse.Namespace) -> None:
    from monde.data.verify import leftovers

    store = _store(args.data)
    meta = store.meta
    lengths = store.episode_lengths() if len(store) else []
    size = sum(p.stat().st_size for p in store.path.rglob("*") if p.is_file())
    summary = {
        "path": str(store.path),
        "format": f"{meta['format']} v{meta['format_version']} (monde {meta['monde_version']})",
        "completeness": store.completeness()["summary"],
        "episodes": len(store),
        "frames": meta["num_frames"],
        "steps per episode": [int(min(lengths)), int(max(lengths))] if len(lengths) else None,
        "bytes on disk": size,
        "features": meta["features"],
        "quarantined": meta.get("quarantined", []),
        "leftovers": leftovers(store),
        "info": {k: v for k, v in meta["info"].items() if k not in ("env_config", "data_config")},
    }
    print(json.dumps(summary, indent=2, default=str))


def cmd_verify(args: argparse.Namespace) -> None:
    from monde.data.verify import exit_code, verify

    report = verify(args.data, progress=not args.quiet)
    for p in report["problems"]:
        where = f"episode {p['episode']}" if p["episode"] is not None else "store"
        print(f"{args.data}: {where}: key {p['key']!r}: {p['error']}")
    left = report["leftovers"]
    if left["uncommitted_rows"] or left["temporary_files"]:
        print(f"{args.data}: an interrupted write left {left}; run `monde data repair`")
    line = f"{report['ok']}/{report['checked']} episodes intact"
    if report["quarantined"]:
        ids = ", ".join(map(str, report["quarantined"]))
        line += f", {len(report['quarantined'])} quarantined (episodes {ids}; not checked, "
        line += "training skips them)"
    state = report["completeness"]
    if state["complete"] is None and report["episodes"]:
        line += f"; {state['reason']}"
    elif state["complete"] is not True or report["episodes"] == 0:
        line += f"; {state['summary']}"
    print(line)
    code = exit_code(report)
    if code:
        sys.exit(code)


def cmd_repair(args: argparse.Namespace) -> None:
    from monde.data.verify import repair

    result = repair(args.data, progress=not args.quiet)
    print(json.dumps(result, indent=2))


def cmd_convert(args: argparse.Namespace) -> None:
    from monde.data.convert import convert

    out = convert(
        args.src,
        args.out,
        args.source,
        args.target,
        args.image_size,
        not args.quiet,
        cameras=args.camera,
    )
    print(f"wrote {out}")
    if args.target == "native":
        _print_cameras(out, explicit=bool(args.camera))


def _print_cameras(out: Path, explicit: bool) -> None:
    """Say which camera became `frames` and what happened to the others (LeRobot imports)."""
    from monde.data.store import EpisodeStore

    source = EpisodeStore(out, verify_reads=False).meta["info"].get("source") or {}
    kept, offered = source.get("cameras") or [], source.get("image_features") or []
    if len(offered) < 2:
        return
    line = f"cameras: frames = {kept[0]}"
    if kept[1:]:
        line += "; also kept: " + ", ".join(f"frames.{k}" for k in kept[1:])
    if skipped := [k for k in offered if k not in kept]:
        line += "; not imported: " + ", ".join(skipped)
    if not explicit:
        line += " (choose with --camera KEY, repeatable; the first is trained on)"
    print(line)


def cmd_view(args: argparse.Namespace) -> None:
    from monde.data.view import view

    out = args.out if args.out is not None else Path(args.data) / "view"
    written = view(args.data, out, episodes=args.episodes, seed=args.seed)
    print(f"episodes {written['episodes']}: wrote {written['png']} and {written['gif']}")


def register(verbs: argparse._SubParsersAction) -> None:
    """Add the `data` verb and its sub-verbs to the `monde` parser."""
    from monde.data.convert import SOURCES, TARGETS

    data = verbs.add_parser("data", help="inspect, verify, repair, convert and view datasets")
    sub = data.add_subparsers(dest="data_verb", required=True)
    for name, func, text in (
        ("info", cmd_info, "what a dataset holds"),
        ("verify", cmd_verify, "find corrupt episodes"),
        ("repair", cmd_repair, "fix an interrupted write, quarantine corrupt episodes"),
        ("view", cmd_view, "contact sheet PNG and GIF of sampled episodes"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("data", type=Path, help="episode store folder")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.set_defaults(func=func)
        if name == "view":
            p.add_argument("--out", type=Path, default=None, help="folder (default DATA/view)")
            p.add_argument("--episodes", type=int, default=6, help="episodes to show")
            p.add_argument("--seed", type=int, default=0, help="which episodes")
    p = sub.add_parser("convert", help="import or export LeRobot, Minari, videos, old npz")
    p.add_argument("src", type=Path, help="source dataset")
    p.add_argument("out", type=Path, help="new dataset folder")
    p.add_argument("--from", dest="source", choices=SOURCES, default="auto")
    p.add_argument(
        "--to",
        dest="target",
        choices=TARGETS,
        default="native",
        help="lerobot = mp4 video, lerobot-images = lossless PNG frames",
    )
    p.add_argument("--image-size", type=int, default=None, help="resize videos to a square")
    p.add_argument(
        "--camera",
        action="append",
        default=None,
        metavar="KEY",
        help="LeRobot image feature to import (repeatable; the first becomes the trained "
        "`frames`, the others are kept as frames.KEY); default: every camera",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_convert)
