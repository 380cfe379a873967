"""A small HTTP/1.1 client for the voters of ``bench_web``: what a browser sends, at little CPU.

The load generator runs on the same two cores as the server it measures. httpx spent ~2.3 ms of
CPU per request there (0.37 of a core at 100 voters), taken from the server; wrk, which measures
``/healthz`` and the battle page, spends a small fraction of that. This client does what the
voters need and no more: GET and form POST, cookies set by the server kept and sent, redirects
followed, Content-Length and chunked bodies, a new connection whenever the server closes one
(gunicorn's sync workers close every connection after its response).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]  # lower-case names; the last of a repeated header
    text: str
    url: str  # the path of the last request (after redirects)


class LeanClient:
    def __init__(self, base_url: str, cookies: dict[str, str], *, timeout: float = 60.0) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookies = dict(cookies)
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, *, follow_redirects: bool = True) -> Response:
        response = await self._request("GET", path)
        for _ in range(5):
            if not (follow_redirects and response.status_code in (301, 302, 303, 307, 308)):
                break
            path = urlsplit(response.headers["location"]).path or "/"
            query = urlsplit(response.headers["location"]).query
            response = await self._request("GET", f"{path}?{query}" if query else path)
        return response

    async def post(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> Response:
        body = urlencode(data).encode()
        extra = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return await self._request("POST", path, body=body, headers=extra)

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None

    async def _request(self, method: str, path: str, *, body: bytes = b"", headers: dict | None = None) -> Response:
        return await asyncio.wait_for(self._exchange(method, path, body, headers or {}), self.timeout)

    async def _exchange(self, method: str, path: str, body: bytes, headers: dict) -> Response:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        for attempt in (1, 2):
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            reader, writer = self._reader, self._writer
            assert reader is not None
            try:
                writer.write(request)
                await writer.drain()
                status_line = await reader.readline()
            except ConnectionError:
                status_line = b""
            if status_line:
                return await self._read_response(reader, status_line, path)
            # A kept connection the server had closed: once more on a new one.
            await self.aclose()
            if attempt == 2:
                raise ConnectionError(f"{method} {path}: the server closed the connection without answering")
        raise AssertionError("unreachable")

    async def _read_response(self, reader: asyncio.StreamReader, status_line: bytes, path: str) -> Response:
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = value
            if name == "set-cookie":
                cookie = value.split(";", 1)[0]
                key, _, cookie_value = cookie.partition("=")
                if "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower():
                    self.cookies.pop(key.strip(), None)
                else:
                    self.cookies[key.strip()] = cookie_value.strip().strip('"')
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await reader.readline()).split(b";")[0], 16):
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readline()
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("connection", "").lower() == "close" and status not in (204, 304):
            body = await reader.read()  # the body ends with the connection
        else:
            body = b""
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return Response(status, headers, body.decode("utf-8", "replace"), path)
