"""The fake provider's request handler: routes each method and path to its
endpoint. A request abandoned because the server stops or the client left
ends with the connection closed, quietly."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from battles.demo.fake_provider.control_endpoints import ControlEndpoints
from battles.demo.fake_provider.generation_endpoints import GenerationEndpoints
from battles.demo.fake_provider.state import ClientGone, ServerStopping
from battles.demo.fake_provider.wire_formats import WIRE_FORMATS


class FakeProviderHandler(GenerationEndpoints, ControlEndpoints):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/v1/models":
            self.get_models()
        elif url.path == "/_fake/stats":
            self.get_stats()
        elif url.path == "/_fake/last_request":
            self.get_last_request(parse_qs(url.query).get("model", [""])[0])
        elif url.path == "/_fake/health":
            self.get_health()
        else:
            self.send_json(404, {"error": {"message": f"no route GET {url.path}", "type": "not_found_error"}})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            if path in WIRE_FORMATS:
                self.generate(WIRE_FORMATS[path], path)
            elif path == "/_fake/faults":
                self.post_faults()
            elif path == "/_fake/reset":
                self.post_reset()
            elif path == "/_fake/config":
                self.post_config()
            else:
                self.read_body()
                self.send_json(404, {"error": {"message": f"no route POST {path}", "type": "not_found_error"}})
        except (ServerStopping, ClientGone):
            self.drop_connection()
