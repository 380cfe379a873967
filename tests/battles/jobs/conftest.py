import pytest

from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)
from tests.support.private_redis import private_redis  # noqa: F401  (fixture)


@pytest.fixture
def provider(fake_provider):  # noqa: F811
    """The fake provider, reset: no faults, no latency, fresh counters."""
    fake_provider.reset()
    return fake_provider
