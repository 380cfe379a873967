"""The ``fake_provider`` fixture: the fake model provider on a free 127.0.0.1 port.

Import it into a conftest.py::

    from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)

The server is session-scoped and runs in a background thread of the test
process, so a Celery worker subprocess reaches it over TCP like any provider.
It starts with no latency and no pacing (fast tests); call ``configure(...)``
for slower answers and ``reset()`` at the start of a test (it clears faults,
counters and last requests and restores the start-up timing).
"""

from __future__ import annotations

import pytest

from battles.demo.fake_provider import FakeProviderControl, FakeProviderServer


class FakeProvider(FakeProviderControl):
    """Handle yielded by the fixture.

    ``url`` (the server root), ``openai_base_url`` (``url + "/v1"``),
    ``anthropic_base_url`` (``url``), ``base_url(kind)``;
    ``set_faults(model_id, faults)``, ``stats()``, ``reset()``,
    ``configure(latency=…, tokens_per_second=…, retry_after=…, drip_interval=…,
    hang_seconds=…)``, ``last_request(model_id)`` — all over the server's real
    HTTP control endpoints. ``server`` is the FakeProviderServer itself.
    """

    def __init__(self, server: FakeProviderServer) -> None:
        super().__init__(server.url)
        self.server = server


@pytest.fixture(scope="session")
def fake_provider():
    server = FakeProviderServer("127.0.0.1", 0, latency=0.0, tokens_per_second=0.0, retry_after=1.0)
    server.start()
    handle = FakeProvider(server)
    try:
        yield handle
    finally:
        handle.close()
        server.stop()


@pytest.fixture
def fake(fake_provider):
    """The session's fake provider, with faults, counters and timing reset."""
    fake_provider.reset()
    yield fake_provider


@pytest.fixture
def provider(fake):
    """The fake provider, reset: no faults, no latency, fresh counters (the name the pipeline tests use)."""
    return fake
