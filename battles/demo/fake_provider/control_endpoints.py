"""The ``/_fake/...`` control endpoints that tests, the demo and the benchmarks
use to queue faults, change the timing, read the counters and reset; the
``FakeProviderControl`` client in ``control`` calls them over HTTP."""

from __future__ import annotations

from dataclasses import asdict, fields

from battles.demo.fake_provider.state import FakeSettings, Fault
from battles.demo.fake_provider.transport import JsonRequestHandler


class ControlEndpoints(JsonRequestHandler):
    """The control endpoints of the fake provider."""

    def get_stats(self) -> None:
        self.send_json(200, self.state.stats())

    def get_last_request(self, model: str) -> None:
        found = self.state.last_request(model)
        if found is None:
            self.send_json(404, {"error": f"no request seen for model {model!r}"})
        else:
            self.send_json(200, found)

    def get_health(self) -> None:
        self.send_json(200, {"ok": True})

    def post_faults(self) -> None:
        data = self.read_json()
        if data is None:
            return
        model = data.get("model") if isinstance(data, dict) else None
        raw = data.get("faults") if isinstance(data, dict) else None
        if not isinstance(model, str) or not model or not isinstance(raw, list):
            self.send_json(400, {"error": 'expected {"model": "name or *", "faults": [...]}'})
            return
        try:
            faults = [Fault.parse(item) for item in raw]
        except ValueError as exc:
            self.send_json(400, {"error": str(exc)})
            return
        self.state.add_faults(model, faults)
        self.send_json(200, {"ok": True, "queued": [str(f) for f in faults]})

    def post_reset(self) -> None:
        self.read_body()
        self.state.reset()
        self.send_json(200, {"ok": True})

    def post_config(self) -> None:
        data = self.read_json()
        if data is None:
            return
        known = {f.name for f in fields(FakeSettings)}
        if not isinstance(data, dict) or not set(data) <= known:
            self.send_json(400, {"error": f"expected an object with keys among {sorted(known)}"})
            return
        try:
            settings = self.state.configure(**data)
        except (TypeError, ValueError) as exc:
            self.send_json(400, {"error": str(exc)})
            return
        self.send_json(200, asdict(settings))
