from tests.support.fake_provider import fake, fake_provider, provider  # noqa: F401  (fixtures)
from tests.support.private_redis import private_redis  # noqa: F401  (fixture)
