"""The fake provider's command line, shared by ``python -m battles.demo.fake_provider``
and ``manage.py run_fake_provider``: the options and a run until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from battles.demo.fake_provider.server import FakeProviderServer

__all__ = ["add_cli_arguments", "serve_from_options"]


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before the first byte (default 0.2)")
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=200.0,
        help="streaming pace; 0 sends as fast as possible (default 200)",
    )
    parser.add_argument(
        "--retry-after", type=float, default=1.0, help="Retry-After seconds of injected 429s (default 1)"
    )
    parser.add_argument(
        "--drip-interval", type=float, default=2.0, help="seconds between tokens of the 'drip' fault (default 2)"
    )
    parser.add_argument(
        "--hang-seconds", type=float, default=120.0, help="how long the 'hang' fault waits (default 120)"
    )
    parser.add_argument(
        "--answer-book",
        default=None,
        metavar="PATH",
        help='JSONL of {"model", "prompt", "text"} answers to serve verbatim',
    )


def serve_from_options(options: dict[str, Any], out=sys.stdout) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly. ``options`` holds the
    values of ``add_cli_arguments`` (argparse or Django option names)."""
    server = FakeProviderServer(
        options["host"],
        options["port"],
        latency=options["latency"],
        tokens_per_second=options["tokens_per_second"],
        retry_after=options["retry_after"],
        drip_interval=options["drip_interval"],
        hang_seconds=options["hang_seconds"],
        answer_book=options.get("answer_book"),
    )
    done = threading.Event()

    def request_stop(signum, frame) -> None:
        done.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    server.start()
    print(
        f"fake provider listening on {server.url}\n"
        f"  OpenAI-compatible base URL: {server.openai_base_url}\n"
        f"  Anthropic base URL:         {server.anthropic_base_url}\n"
        f"  control: {server.url}/_fake/stats, /_fake/faults, /_fake/reset, /_fake/config",
        file=out,
        flush=True,
    )
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("fake provider stopped", file=out, flush=True)
