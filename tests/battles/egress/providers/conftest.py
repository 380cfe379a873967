import asyncio

import httpx
import pytest

from battles.egress.providers import ChatRequest, get_provider

USER_PROMPT = "Explain how TCP congestion control works"
# Shared so that each test's client does not build its own TLS context (~30 ms).
SSL_CONTEXT = httpx.create_ssl_context()


@pytest.fixture(params=["openai", "anthropic"])
def kind(request):
    return request.param


@pytest.fixture(params=[True, False], ids=["stream", "no-stream"])
def stream(request):
    return request.param


@pytest.fixture(params=["sync", "async"])
def call(request):
    """``call(kind, request, on_delta=None)``: the provider's ``chat`` with a sync
    client, or its ``achat`` twin driven by ``asyncio.run`` with an async client."""

    def run(kind, req, on_delta=None, **client_options):
        client_options.setdefault("verify", SSL_CONTEXT)
        provider = get_provider(kind)
        if request.param == "sync":
            with httpx.Client(**client_options) as client:
                return provider.chat(client, req, on_delta)

        async def main():
            async with httpx.AsyncClient(**client_options) as client:
                return await provider.achat(client, req, on_delta)

        return asyncio.run(main())

    run.mode = request.param
    return run


@pytest.fixture
def make_request(fake):
    def make(kind, *, model_id="m-contract", stream=True, **overrides):
        fields = {
            "base_url": fake.base_url(kind),
            "model_id": model_id,
            "messages": [{"role": "user", "content": USER_PROMPT}],
            "stream": stream,
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
            "deadline": 10.0,
        }
        fields.update(overrides)
        return ChatRequest(**fields)

    return make
