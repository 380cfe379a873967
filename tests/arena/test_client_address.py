"""Which address a request counts as its client's, for each number of trusted proxies."""

import pytest
from django.test import RequestFactory

from arena.client_address import client_address


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "192.0.2.9", "172.18.0.5"),  # no proxy: a client's header is ignored
        (1, "", "172.18.0.5"),  # a proxy that added nothing: its own address
        (1, "10.0.0.7", "10.0.0.7"),
        (1, "192.0.2.9, 10.0.0.7", "10.0.0.7"),  # what the client wrote before the proxy's entry
        (2, "10.0.0.7, 172.18.0.2", "10.0.0.7"),  # load balancer then nginx
        (2, "192.0.2.9, 10.0.0.7, 172.18.0.2", "10.0.0.7"),
        (2, "10.0.0.7", "172.18.0.5"),  # fewer hops than proxies: not trusted
    ],
)
def test_the_client_is_as_many_entries_from_the_right_as_there_are_trusted_proxies(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR="172.18.0.5", **headers)
    assert client_address(request) == expected
