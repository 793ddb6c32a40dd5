"""`monde serve`: wiring only (docs/serve.md).

monde serve --config configs/serve.yaml [overrides]     serve the models the config names
monde serve --model demo=runs/demo/model [--port 8765]  one model, no config file
"""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_serve(args: argparse.Namespace) -> None:
    from monde.serve.config import load_serve_config
    from monde.serve.server import serve

    overrides = list(args.overrides)
    if args.host is not None:
        overrides.append(f"host={args.host}")
    if args.port is not None:
        overrides.append(f"port={args.port}")
    if args.unbatched:
        overrides.append("batch=false")
    cfg = load_serve_config(args.config, overrides, args.model)
    serve(cfg, log_level="warning" if args.quiet else "info", access_log=args.access_log)


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("serve", help="a planning server: sessions, batching, bearer token")
    p.add_argument("--config", type=Path, default=None, help="server YAML (configs/serve.yaml)")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. max_sessions=64")
    p.add_argument(
        "--model", action="append", default=[], metavar="NAME=FOLDER", help="serve a model folder"
    )
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8765; 0: any free)")
    p.add_argument("--unbatched", action="store_true", help="plan one act call at a time")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.add_argument("--quiet", action="store_true", help="warnings only")
    p.set_defaults(func=cmd_serve)
