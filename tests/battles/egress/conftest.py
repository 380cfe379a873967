from tests.support.fake_provider import fake, fake_provider  # noqa: F401  (fixtures)
