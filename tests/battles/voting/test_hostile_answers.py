"""Answers no provider should send, from a real HTTP server speaking both wire formats.

A NUL character cannot be stored in a Postgres text column: an answer containing one must be
stored (with U+FFFD in its place) and shown, not fail the generation over and over.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from battles.generation import connection_check, runner
from battles.models import Generation
from tests.factories import make_llm, make_pool, make_prompt

HOSTILE = "Before\x00after <script>alert(1)</script>\x00"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, content_type: str, body: bytes):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.endswith("/chat/completions") and request.get("stream"):
            chunks = [
                {"choices": [{"index": 0, "delta": {"content": HOSTILE[:8]}}]},
                {"choices": [{"index": 0, "delta": {"content": HOSTILE[8:]}, "finish_reason": "stop"}]},
            ]
            body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            self._send("text/event-stream", body.encode())
        elif self.path.endswith("/chat/completions"):
            self._send(
                "application/json",
                json.dumps(
                    {
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": HOSTILE}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 5},
                    }
                ).encode(),
            )
        else:
            self._send(
                "application/json",
                json.dumps(
                    {
                        "content": [{"type": "text", "text": HOSTILE}],
                        "stop_reason": "end_turn",
                        "usage": {"input_tokens": 3, "output_tokens": 5},
                    }
                ).encode(),
            )


@pytest.fixture
def hostile_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("provider, suffix", [("openai", "/v1"), ("anthropic", "")])
def test_an_answer_with_nul_characters_is_stored_not_failed(hostile_server, provider, suffix):
    llm = make_llm(f"nul-{provider}", provider=provider, base_url=hostile_server + suffix)
    answer = Generation.objects.create(prompt=make_prompt(make_pool(), "Say hello"), llm_version=llm.current_version())
    assert runner.run_generation(generation_id=answer.pk).status == "done"
    answer.refresh_from_db()
    assert answer.text == HOSTILE.replace("\x00", "\ufffd")
    # The OpenAI-style stream above reports no usage: unknown token counts are stored as unknown.
    assert (answer.tokens_in, answer.tokens_out) == ((None, None) if provider == "openai" else (3, 5))
    # The admin's "test connection" (a non-streamed call) shows the same text.
    check = connection_check.check_connection(llm)
    assert check.ok and check.text == answer.text
