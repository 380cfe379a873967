"""How an answer goes out on the wire: whole or streamed, on time, and broken
in the ways the queued fault asks for (cut, truncated, dripped, an error in the
middle of the stream, a malformed body, an error status)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator

from battles.demo.fake_provider.state import FakeSettings, Fault
from battles.demo.fake_provider.transport import JsonRequestHandler
from battles.demo.fake_provider.wire_formats import PreparedAnswer, WireFormat

# With a fast token rate, tokens are grouped so that a stream sends at most
# one event per this many seconds: pacing stays right without a write per token.
MIN_EVENT_INTERVAL = 0.02


class AnswerWriter(JsonRequestHandler):
    """Writes prepared answers and faults in a wire format."""

    def send_fault_status(self, wire: WireFormat, fault: Fault, key: str, settings: FakeSettings) -> None:
        status = fault.status or 500
        headers: dict[str, str] = {}
        if status == 429:
            wait = fault.arg if fault.arg is not None else settings.retry_after
            headers["Retry-After"] = str(max(0, math.ceil(wait)))
            if wire.name == "openai":
                headers["retry-after-ms"] = str(int(round(wait * 1000)))
        if 300 <= status < 400:
            headers["Location"] = self.path
            self.send_json(status, {"moved": self.path}, headers)
            return
        self.send_json(status, wire.error_body(status, key), headers)

    def send_malformed(self, wire: WireFormat, stream: bool) -> None:
        if not stream:
            self.send_json(200, wire.malformed_body())
            return
        self._start_chunked()
        self._write_chunk(b"data: {this is not json\n\n")
        self._end_chunked()

    def _write_last(self, data: bytes, ctx: PreparedAnswer) -> None:
        """Write the final bytes of a complete answer, counting it as completed
        first: a client that has read the whole answer must find it counted."""
        self.state.mark_completed(ctx.model, ctx.epoch, +1)
        try:
            self.wfile.write(data)
        except BaseException:
            self.state.mark_completed(ctx.model, ctx.epoch, -1)
            raise

    def send_answer(self, wire: WireFormat, ctx: PreparedAnswer, fault: Fault | None, settings: FakeSettings) -> None:
        """A non-streamed answer."""
        generation_time = ctx.tokens_out / settings.tokens_per_second if settings.tokens_per_second else 0.0
        if fault is None or fault.kind != "drip":
            self.wait(settings.latency + generation_time)
        else:
            self.wait(settings.latency)
        body = json.dumps(wire.body(ctx)).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault is not None and fault.kind in ("cut", "truncate"):
            self.wfile.write(body[: len(body) // 2])
            self.drop_connection()
            return
        if fault is not None and fault.kind == "drip":
            interval = fault.arg if fault.arg is not None else settings.drip_interval
            pieces = [body[start : start + 16] for start in range(0, len(body), 16)]
            for piece in pieces[:-1]:
                self.wfile.write(piece)
                self.wait(interval)
            body = pieces[-1]
        self._write_last(body, ctx)

    def stream_answer(self, wire: WireFormat, ctx: PreparedAnswer, fault: Fault | None, settings: FakeSettings) -> None:
        """A streamed answer. Frames due at the same moment go out in one write
        (at rate 0, the whole answer): separate events, few system calls."""
        self.wait(settings.latency)
        self._start_chunked()
        pending = [_chunk(frame) for frame in wire.stream_head(ctx)]

        def flush() -> None:
            if pending:
                self.wfile.write(b"".join(pending))
                pending.clear()

        pieces = ctx.pieces
        kind = fault.kind if fault is not None else None
        if kind in ("cut", "truncate", "stream_error"):
            pieces = pieces[: max(1, len(pieces) // 2)]
        if kind == "drip":
            interval = fault.arg if fault and fault.arg is not None else settings.drip_interval
            batches: Iterator[tuple[str, float]] = ((piece, interval) for piece in pieces)
        else:
            batches = _paced(pieces, settings.tokens_per_second)
        next_at = time.monotonic()
        for text, pause in batches:
            if pause:
                flush()
                next_at += pause
                self.wait(next_at - time.monotonic())
            pending.append(_chunk(wire.stream_delta(ctx, text)))
        if kind == "cut":
            flush()
            self.drop_connection()
            return
        if kind == "stream_error":
            pending.append(_chunk(wire.stream_error()))
        if kind in ("stream_error", "truncate"):
            pending.append(b"0\r\n\r\n")
            flush()
            return
        pending.extend(_chunk(frame) for frame in wire.stream_tail(ctx))
        pending.append(b"0\r\n\r\n")
        self._write_last(b"".join(pending), ctx)

    def _start_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(_chunk(data))

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")


def _chunk(data: bytes) -> bytes:
    """One chunk of a chunked transfer encoding."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _paced(pieces: list[str], tokens_per_second: float) -> Iterator[tuple[str, float]]:
    """(text, pause before it) batches: one token per event at slow rates, a few
    per event at fast ones, none of the pauses at rate 0."""
    if not tokens_per_second:
        for piece in pieces:
            yield piece, 0.0
        return
    per_token = 1.0 / tokens_per_second
    group = max(1, math.ceil(MIN_EVENT_INTERVAL / per_token))
    for start in range(0, len(pieces), group):
        batch = pieces[start : start + group]
        yield "".join(batch), per_token * len(batch)
