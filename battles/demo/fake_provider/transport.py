"""The HTTP layer under the fake provider's endpoints: a threaded server that
tracks its open connections (so that ``stop()`` can close them) and a request
handler base with JSON in and out, a wait that gives up when the client leaves,
and an abrupt close for the faults that need one."""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from battles.demo.fake_provider.state import ServerState, ServerStopping

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 16 * 1024 * 1024


class ProviderHTTPServer(ThreadingHTTPServer):
    """Serves each connection in a daemon thread and remembers the open ones."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default of 5 drops SYNs under a burst of concurrent clients

    def __init__(self, address, state: ServerState, handler_class: type[JsonRequestHandler]) -> None:
        self.state = state
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler_class, bind_and_activate=False)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can
        # stall for seconds on a machine without DNS; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        # The stubs let a host be bytes (as an address may be given); bound, an INET socket's is text.
        assert isinstance(host, str)
        self.server_name = host

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (OSError, ServerStopping)) or self.state.stopping.is_set():
            return  # a client that went away, or shutdown: nothing to report
        logger.error("fake provider: error serving %s", client_address, exc_info=True)


class JsonRequestHandler(BaseHTTPRequestHandler):
    """The plumbing every endpoint of the fake provider uses."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeProvider/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300  # an idle keep-alive connection is closed after this
    server: ProviderHTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the test output

    @property
    def state(self) -> ServerState:
        return self.server.state

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.send_json(411, {"error": {"message": "Content-Length required", "type": "invalid_request_error"}})
            self.close_connection = True
            return None
        if int(length) > MAX_REQUEST_BYTES:
            self.send_json(413, {"error": {"message": "request too large", "type": "invalid_request_error"}})
            self.close_connection = True
            return None
        return self.rfile.read(int(length))

    def read_json(self) -> Any:
        raw = self.read_body()
        if raw is None:
            return None
        try:
            return json.loads(raw or b"null")
        except ValueError:
            self.send_json(400, {"error": {"message": "body is not valid JSON", "type": "invalid_request_error"}})
            return None

    def wait(self, seconds: float) -> None:
        """Sleep; raises ServerStopping or ClientGone to abandon the request (see ServerState.wait)."""
        self.state.wait(seconds, self.connection)

    def drop_connection(self) -> None:
        """Close abruptly, as a crashed upstream or a reset proxy would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
