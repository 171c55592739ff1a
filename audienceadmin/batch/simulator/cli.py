"""The command line: ``python -m audienceadmin.batch.simulator`` and ``manage.py batch_simulator``."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator

from .core import BatchSimulator
from .faults import FAULT_FIELDS
from .protocol import MAX_HANG_SECONDS


def _split_pair(value: str, what: str, *, from_right: bool = False) -> tuple[str, str]:
    left, sep, right = value.rpartition(":") if from_right else value.partition(":")
    if not sep or not left or not right:
        raise argparse.ArgumentTypeError(f"{what} must look like A:B")
    return left, right


def _pairs(
    parser: argparse.ArgumentParser, flag: str, metavar: str, what: str, *, from_right: bool = False, dest: str = ""
) -> None:
    parser.add_argument(
        flag,
        dest=dest or flag.removeprefix("--").replace("-", "_"),
        action="append",
        default=[],
        metavar=metavar,
        type=lambda v: _split_pair(v, flag, from_right=from_right),
        help=f"{what} (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m audienceadmin.batch.simulator",
        description="Serve simulated Batch audience APIs, MEP 1.0/1.1 and CEP 2.x (in memory, for demos and tests).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port (default 8001; 0 = any)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="delay every API answer")
    _pairs(parser, "--app", "API_KEY:REST_KEY", "register an app")
    _pairs(parser, "--audience", "API_KEY:NAME", "create a 1.1 audience in a registered app", from_right=True)
    _pairs(parser, "--audience-1.0", "API_KEY:NAME", "create a 1.0 audience", from_right=True, dest="audience_10")
    _pairs(parser, "--project", "PROJECT_KEY:REST_KEY", "register a CEP project")
    _pairs(parser, "--cep-audience", "PROJECT_KEY:NAME", "create an audience in a registered project", from_right=True)
    parser.add_argument(
        "--project-rate-limit",
        type=float,
        metavar="PER_SECOND",
        help="answer 429 beyond this many requests per second, in each --project",
    )
    parser.add_argument(
        "--indexing-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="how long a CEP create or remove stays IN_PROGRESS (default 0)",
    )
    parser.add_argument(
        "--removed-view",
        choices=("404", "APPLIED"),
        default="404",
        help="CEP view with a remove's token, once applied: 404 (default) or APPLIED",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='inject a fault, e.g. \'{"action": "error", "error": "SERVER_ERROR", "times": 1}\'',
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return parser


def _configure(parser: argparse.ArgumentParser, sim: BatchSimulator, args: argparse.Namespace) -> None:
    try:
        for api_key, rest_key in args.app:
            sim.add_app(api_key, rest_key)
        for version, audiences in (("1.1", args.audience), ("1.0", args.audience_10)):
            for api_key, name in audiences:
                sim.add_audience(api_key, name, version=version)
        for project_key, rest_key in args.project:
            sim.add_project(project_key, rest_key, rate_limit=args.project_rate_limit)
        for project_key, name in args.cep_audience:
            sim.add_cep_audience(project_key, name)
        for raw in args.fault:
            spec = json.loads(raw)
            if not isinstance(spec, dict) or not set(spec) <= FAULT_FIELDS:
                parser.error(f"--fault takes a JSON object with keys among {sorted(FAULT_FIELDS)}")
            sim.add_fault(**spec)
    except (KeyError, TypeError, ValueError) as exc:
        parser.error(str(exc.args[0]) if exc.args else "invalid configuration")


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be within 0-65535")
    try:
        sim = BatchSimulator(
            args.host,
            args.port,
            args.latency,
            quiet=args.quiet,
            indexing_delay=args.indexing_delay,
            removed_view=args.removed_view,
        )
    except ValueError as exc:
        parser.error(f"{exc} (--latency, --indexing-delay: 0-{MAX_HANG_SECONDS:g} seconds)")
    _configure(parser, sim, args)
    stop = threading.Event()
    with _stop_on_signals(stop):
        try:
            sim.start()
        except OSError as exc:
            sys.stderr.write(f"batch simulator: cannot listen on {args.host}:{args.port}: {exc}\n")
            return 1
        print(f"Batch simulator listening on {sim.url}", flush=True)
        try:
            while not stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            sim.stop()
    return 0
