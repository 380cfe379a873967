"""A small client for the fake provider's ``/_fake/...`` control endpoints, for
tests and benchmarks that talk to a server in another thread or process."""

from __future__ import annotations

import time
from typing import Any

import httpx


class FakeProviderControl:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        # One plain-HTTP client for every control call: building an httpx
        # client per call costs tens of milliseconds (its TLS context).
        self._client = httpx.Client(timeout=timeout, verify=False, trust_env=False)

    def close(self) -> None:
        self._client.close()

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def base_url(self, kind: str) -> str:
        """The base URL a provider of ``kind`` ("openai" or "anthropic") expects."""
        return {"openai": self.openai_base_url, "anthropic": self.anthropic_base_url}[kind]

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, self.url + path, **kwargs)
        if response.status_code == 404 and path.startswith("/_fake/last_request"):
            return None
        response.raise_for_status()
        return response.json()

    def set_faults(self, model_id: str, faults: list[str]) -> None:
        """Queue faults for ``model_id`` ("*" for any model); see the server docstring."""
        self._call("POST", "/_fake/faults", json={"model": model_id, "faults": list(faults)})

    def configure(self, **settings: float) -> dict:
        """Change latency, tokens_per_second, retry_after, drip_interval or hang_seconds."""
        return self._call("POST", "/_fake/config", json=settings)

    def stats(self) -> dict:
        return self._call("GET", "/_fake/stats")

    def reset(self) -> None:
        self._call("POST", "/_fake/reset")

    def last_request(self, model_id: str) -> dict | None:
        return self._call("GET", "/_fake/last_request", params={"model": model_id})

    def wait_until_ready(self, timeout: float = 10.0) -> None:
        """Poll the health endpoint until the server answers (for a server started as a subprocess)."""
        until = time.monotonic() + timeout
        while True:
            try:
                self._call("GET", "/_fake/health")
                return
            except httpx.HTTPError:
                if time.monotonic() > until:
                    raise
                time.sleep(0.05)
