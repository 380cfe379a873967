"""A fake model provider for the demo, the tests and the benchmarks.

A real HTTP server speaking the OpenAI-compatible and Anthropic wire formats
with deterministic answers, configurable timing and injectable faults; see
``battles.demo.fake_provider.server`` for the endpoints. Standard library only (the
control client uses httpx): no Django import.
"""

from battles.demo.fake_provider.answers import AnswerBook, answer
from battles.demo.fake_provider.control import FakeProviderControl
from battles.demo.fake_provider.server import FakeProviderServer, FakeSettings

__all__ = ["AnswerBook", "FakeProviderControl", "FakeProviderServer", "FakeSettings", "answer"]
