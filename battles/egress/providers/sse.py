"""Incremental Server-Sent Events parsing, shared by every provider.

The decoder follows the WHATWG "event stream interpretation" rules: lines end
in CRLF, LF or CR (possibly split across network chunks), ``:`` starts a
comment, ``data`` lines of one event are joined with ``\\n``, one space after
the colon is dropped, a blank line dispatches the event, and an event that is
still being built when the stream ends is discarded, never dispatched. The
last rule is what lets a provider tell a stream cut in the middle of an event
from a complete one.

Pure code: no I/O, no clock, no httpx.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["ServerSentEvent", "SSEDecoder", "iter_events"]


@dataclass(frozen=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Turn chunks of an event stream (bytes or str) into ServerSentEvents.

    ``feed()`` returns the events completed by the chunk; ``close()`` reports
    whether anything was left half-built (a truncated last event).
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._pending_cr = False
        self._at_start = True
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None
        self._dirty = False

    def feed(self, chunk: bytes | str) -> list[ServerSentEvent]:
        text = self._utf8.decode(chunk) if isinstance(chunk, (bytes, bytearray)) else chunk
        return self._feed_text(text)

    def close(self) -> bool:
        """End of stream. Returns True if an unfinished event was discarded."""
        tail = self._utf8.decode(b"", final=True)
        if tail:
            self._feed_text(tail)
        truncated = bool(self._buffer) or self._dirty
        self._buffer = ""
        self._data = []
        self._event = ""
        self._dirty = False
        return truncated

    def _feed_text(self, text: str) -> list[ServerSentEvent]:
        if self._at_start and text:
            self._at_start = False
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._pending_cr:
            # The previous chunk ended in CR: a following LF belongs to that line ending.
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        events: list[ServerSentEvent] = []
        buffer = self._buffer + text
        start = 0
        length = len(buffer)
        while start < length:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            if cr == -1 and lf == -1:
                break
            if cr == -1 or (lf != -1 and lf < cr):
                end, next_start = lf, lf + 1
            else:
                end = cr
                if cr + 1 < length:
                    next_start = cr + 2 if buffer[cr + 1] == "\n" else cr + 1
                else:
                    next_start = cr + 1
                    self._pending_cr = True
            event = self._line(buffer[start:end])
            if event is not None:
                events.append(event)
            start = next_start
        self._buffer = buffer[start:]
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._dirty = True
        elif field == "event":
            self._event = value
            self._dirty = True
        elif field == "id":
            if "\0" not in value:
                self._last_id = value
        elif field == "retry":
            if value.isdigit():
                self._retry = int(value)
        # Unknown fields are ignored, as the specification requires.
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, event = self._data, self._event
        self._data, self._event, self._dirty = [], "", False
        if not data:
            return None
        return ServerSentEvent(
            data="\n".join(data),
            event=event or "message",
            id=self._last_id,
            retry=self._retry,
        )


def iter_events(chunks: Iterable[bytes | str]) -> Iterator[ServerSentEvent]:
    """Yield the complete events of a finished stream given as chunks."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    decoder.close()
