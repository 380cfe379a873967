"""A fake model provider for the demo, the tests and the benchmarks.

A real HTTP server speaking the OpenAI-compatible and Anthropic wire formats
with deterministic answers, configurable timing and injectable faults; see
``battles.demo.fake_provider.server`` for the endpoints. Standard library only (the
control client uses httpx): no Django import.

The modules, from the bottom up: ``answers`` (what is said), ``state`` (settings,
faults, counters), ``wire_formats`` (the two formats' bodies and frames),
``transport`` (the HTTP server and handler plumbing), ``answer_writers``,
``generation_endpoints`` and ``control_endpoints`` (what each path does),
``handler`` (routing), ``server`` (the lifecycle) and ``cli`` (the command
line); ``control`` is the HTTP client of the control endpoints.
"""

from battles.demo.fake_provider.answers import AnswerBook, answer
from battles.demo.fake_provider.control import FakeProviderControl
from battles.demo.fake_provider.server import FakeProviderServer
from battles.demo.fake_provider.state import FakeSettings

__all__ = ["AnswerBook", "FakeProviderControl", "FakeProviderServer", "FakeSettings", "answer"]
