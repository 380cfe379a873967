"""The endpoints a provider client calls: ``POST /v1/chat/completions``,
``POST /v1/messages`` and ``GET /v1/models``. A generation request is recorded,
validated, matched with the next queued fault, answered from the answer book
and handed to the answer writers."""

from __future__ import annotations

import hashlib
import time
import uuid

from battles.demo.fake_provider import answers
from battles.demo.fake_provider.answer_writers import AnswerWriter
from battles.demo.fake_provider.wire_formats import PreparedAnswer, WireFormat


class GenerationEndpoints(AnswerWriter):
    """The wire-format endpoints of the fake provider."""

    def get_models(self) -> None:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.state.models()]
        self.send_json(200, {"object": "list", "data": data})

    def generate(self, wire: WireFormat, path: str) -> None:
        """Answer one generation request; ServerStopping or ClientGone may abandon it."""
        body = self.read_json()
        if body is None:
            return
        if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
            self.send_json(400, wire.error_body(400, "", "model: a non-empty string is required"))
            return
        model = body["model"]
        key, scheme = self._api_key(wire)
        epoch = self.state.record(
            model,
            {
                "path": path,
                "body": body,
                "headers": {
                    name: self.headers[name]
                    for name in ("content-type", "accept", "anthropic-version")
                    if self.headers.get(name) is not None
                },
                "auth": {"scheme": scheme, "key_sha256": hashlib.sha256(key.encode()).hexdigest() if key else None},
            },
        )
        problem = wire.validate(body, self.headers)
        if problem:
            self.send_json(400, wire.error_body(400, "", problem))
            return
        fault = self.state.take_fault(model)
        settings = self.state.settings
        stream = bool(body.get("stream"))
        with self.state.running(model, epoch):
            if fault is not None and fault.kind == "hang":
                self.wait(fault.arg if fault.arg is not None else settings.hang_seconds)
            ctx = self._prepare_answer(wire, body, model, epoch)
            if fault is not None and fault.status is not None:
                self.wait(settings.latency)
                self.send_fault_status(wire, fault, key, settings)
            elif fault is not None and fault.kind == "malformed":
                self.wait(settings.latency)
                self.send_malformed(wire, stream)
            elif fault is not None and fault.kind == "stream_error" and not stream:
                self.wait(settings.latency)
                status = 529 if wire.name == "anthropic" else 503
                self.send_json(status, wire.error_body(status, key))
            elif stream:
                self.stream_answer(wire, ctx, fault, settings)
            else:
                self.send_answer(wire, ctx, fault, settings)

    def _api_key(self, wire: WireFormat) -> tuple[str, str | None]:
        if wire.name == "anthropic" and self.headers.get("x-api-key"):
            return self.headers["x-api-key"], "x-api-key"
        authorization = self.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            return authorization[7:].strip(), "bearer"
        return "", None

    def _prepare_answer(self, wire: WireFormat, body: dict, model: str, epoch: int) -> PreparedAnswer:
        text = answers.answer(model, body["messages"], self.state.book)
        pieces = answers.split_tokens(text)
        finish_reason = wire.stop_reason
        limit = wire.max_tokens(body)
        if limit is not None and len(pieces) > limit:
            pieces = pieces[:limit]
            text = "".join(pieces)
            finish_reason = wire.length_reason
        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
        return PreparedAnswer(
            model=model,
            text=text,
            pieces=pieces,
            tokens_in=answers.count_tokens(wire.prompt_text(body)),
            finish_reason=finish_reason,
            include_usage=include_usage,
            request_id=("chatcmpl-" if wire.name == "openai" else "msg_") + uuid.uuid4().hex[:24],
            created=int(time.time()),
            epoch=epoch,
        )
