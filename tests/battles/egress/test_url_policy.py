"""The base-URL policy alone: no database, no network (the resolver is injected)."""

import ast
import socket
from pathlib import Path

import pytest

from battles.egress.url_policy import HostNotResolved, URLRefused, check_base_url

PUBLIC = "93.184.215.14"


def resolver(table):
    """A resolver answering from ``table`` (host → addresses); unknown hosts do not resolve."""
    calls = []

    def resolve(host, port):
        calls.append((host, port))
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    resolve.calls = calls
    return resolve


NAMES = resolver(
    {
        "api.example.com": [PUBLIC],
        "api6.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        "vllm.internal.example": ["10.0.0.7"],
        "ollama.lan": ["192.168.1.20"],
        "rebind.example.com": [PUBLIC, "169.254.169.254"],
        "meta.nip.example": ["169.254.169.254"],
        "v6meta.example": ["fd00:ec2::254"],
        "mapped.example": ["::ffff:169.254.169.254"],
        "loop.example": ["127.0.0.1"],
        "loop6.example": ["::1"],
        "cgnat.example": ["100.64.1.1"],
        "ula.example": ["fd12:3456:789a::1"],
        "linklocal6.example": ["fe80::1%eth0"],
        "localhost": ["127.0.0.1", "::1"],
        "garbage.example": ["not-an-address"],
        "empty.example": [],
    }
)

ACCEPTED_ALWAYS = [
    "https://api.example.com/v1",
    "http://api.example.com:8080/v1/",
    "https://API.Example.com./v1",
    f"http://{PUBLIC}/v1",
    "https://api6.example.com/v1",
    "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/v1",
]

ACCEPTED_ONLY_WITH_PRIVATE = [
    "http://127.0.0.1:8000/v1",
    "http://127.0.0.2/v1",
    "http://[::1]:11434/v1",
    "http://localhost:11434/v1",
    "http://10.1.2.3/v1",
    "http://172.16.0.1/v1",
    "http://172.31.255.255/v1",
    "http://192.168.0.10:8000/v1",
    "http://[fd12:3456:789a::1]/v1",
    "http://[::ffff:127.0.0.1]/v1",
    "http://vllm.internal.example:8000/v1",
    "http://ollama.lan:11434/v1",
    "http://loop.example/v1",
    "http://loop6.example/v1",
    "http://cgnat.example/v1",
    "http://ula.example/v1",
]

REFUSED_ALWAYS = {
    # cloud metadata, by address and by name
    "metadata IPv4": "http://169.254.169.254/latest/meta-data",
    "metadata IPv6": "http://[fd00:ec2::254]/",
    "alibaba metadata": "http://100.100.100.200/",
    "gcp metadata name": "http://metadata.google.internal/computeMetadata/v1",
    "gcp metadata name with trailing dot": "http://metadata.google.internal./",
    "gcp metadata name upper case": "http://METADATA.GOOGLE.INTERNAL/",
    "name resolving to metadata": "http://meta.nip.example/",
    "name resolving to IPv6 metadata": "http://v6meta.example/",
    "one of several answers is metadata": "https://rebind.example.com/v1",
    # link-local
    "link-local IPv4": "http://169.254.1.1/",
    "link-local IPv6": "http://[fe80::1]/",
    "link-local IPv6 with zone": "http://[fe80::1%25eth0]/",
    "name resolving to link-local IPv6": "http://linklocal6.example/",
    # IPv4 hidden in IPv6
    "IPv4-mapped metadata": "http://[::ffff:169.254.169.254]/",
    "IPv4-mapped metadata in hex": "http://[::ffff:a9fe:a9fe]/",
    "IPv4-compatible metadata": "http://[::169.254.169.254]/",
    "NAT64 metadata": "http://[64:ff9b::a9fe:a9fe]/",
    "6to4 metadata": "http://[2002:a9fe:a9fe::]/",
    "name resolving to mapped metadata": "http://mapped.example/",
    # other spellings of an IPv4 address
    "decimal": "http://2852039166/",
    "octal": "http://0251.0376.0251.0376/",
    "hex": "http://0xa9fea9fe/",
    "hex dotted": "http://0xa9.0xfe.0xa9.0xfe/",
    "short form": "http://169.254.43518/",
    "short loopback": "http://127.1/",
    "leading zero": "http://127.0.0.01/",
    "five labels": "http://1.2.3.4.5/",
    # user info and parser differentials
    "userinfo before metadata": "http://evil@169.254.169.254/",
    "userinfo with password": "http://user:pass@api.example.com/v1",
    "public host in userinfo": "http://api.example.com@169.254.169.254/",
    "backslash": "http://api.example.com\\@169.254.169.254/",
    "tab in host": "http://api.exa\tmple.com/",
    "newline": "http://api.example.com/\nv1",
    "space": "http://api example.com/",
    "non-ASCII digits": "http://\uff11\uff16\uff19.254.169.254/",
    "percent-encoded host": "http://169.254.169.254%2f.example.com/",
    # schemes and shapes
    "file": "file:///etc/passwd",
    "ftp": "ftp://api.example.com/",
    "gopher": "gopher://127.0.0.1:6379/_INFO",
    "javascript": "javascript:alert(1)",
    "no scheme": "api.example.com/v1",
    "scheme-relative": "//api.example.com/v1",
    "no host": "http:///v1",
    "empty": "",
    "blank": "   ",
    "bad port": "http://api.example.com:99999/",
    "port not a number": "http://api.example.com:http/",
    "query": "https://api.example.com/v1?redirect=http://169.254.169.254",
    "fragment": "https://api.example.com/v1#x",
    # special-purpose addresses
    "unspecified IPv4": "http://0.0.0.0:8000/",
    "this network": "http://0.1.2.3/",
    "unspecified IPv6": "http://[::]/",
    "multicast": "http://224.0.0.1/",
    "multicast IPv6": "http://[ff02::1]/",
    "broadcast": "http://255.255.255.255/",
    "reserved": "http://240.0.0.1/",
    "documentation": "http://192.0.2.10/",
    "benchmarking": "http://198.18.0.1/",
    "teredo": "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "resolves to garbage": "http://garbage.example/",
}


@pytest.mark.parametrize("url", ACCEPTED_ALWAYS)
@pytest.mark.parametrize("allow_private", [False, True])
def test_public_endpoints_are_accepted(url, allow_private):
    endpoint = check_base_url(url, allow_private=allow_private, resolver=NAMES)
    assert endpoint.addresses


@pytest.mark.parametrize("url", ACCEPTED_ONLY_WITH_PRIVATE)
def test_private_and_loopback_endpoints_need_the_setting(url):
    with pytest.raises(URLRefused, match="ARENA_ALLOW_PRIVATE_ENDPOINTS"):
        check_base_url(url, allow_private=False, resolver=NAMES)
    assert check_base_url(url, allow_private=True, resolver=NAMES).addresses


@pytest.mark.parametrize("url", REFUSED_ALWAYS.values(), ids=REFUSED_ALWAYS.keys())
@pytest.mark.parametrize("allow_private", [False, True])
def test_dangerous_urls_are_refused_even_when_private_endpoints_are_allowed(url, allow_private):
    with pytest.raises(URLRefused) as raised:
        check_base_url(url, allow_private=allow_private, resolver=NAMES)
    assert raised.value.reason and "\n" not in raised.value.reason


def test_metadata_reasons_say_what_the_address_is():
    with pytest.raises(URLRefused, match="metadata"):
        check_base_url("http://169.254.169.254/", allow_private=True, resolver=NAMES)
    with pytest.raises(URLRefused, match="link-local"):
        check_base_url("http://169.254.1.1/", allow_private=True, resolver=NAMES)
    with pytest.raises(URLRefused, match="four decimal numbers"):
        check_base_url("http://2852039166/", allow_private=True, resolver=NAMES)
    with pytest.raises(URLRefused, match="User names and passwords"):
        check_base_url("http://evil@169.254.169.254/", allow_private=True, resolver=NAMES)


def test_numeric_hosts_are_never_handed_to_the_resolver():
    # glibc's resolver reads "2852039166" as 169.254.169.254; it must not get the chance.
    spy = resolver({})
    for url in ("http://2852039166/", "http://0251.0376.0251.0376/", "http://127.1/"):
        with pytest.raises(URLRefused):
            check_base_url(url, allow_private=True, resolver=spy)
    assert spy.calls == []


def test_a_name_that_does_not_resolve_is_reported_as_unresolved_not_refused():
    with pytest.raises(HostNotResolved, match="nowhere.example"):
        check_base_url("https://nowhere.example/v1", allow_private=False, resolver=NAMES)
    with pytest.raises(HostNotResolved):
        check_base_url("https://empty.example/v1", allow_private=False, resolver=NAMES)


def test_the_resolver_gets_the_host_and_the_default_port_of_the_scheme():
    spy = resolver({"api.example.com": [PUBLIC]})
    check_base_url("https://api.example.com/v1", allow_private=False, resolver=spy)
    check_base_url("http://api.example.com/v1", allow_private=False, resolver=spy)
    check_base_url("http://api.example.com:8443/v1", allow_private=False, resolver=spy)
    assert spy.calls == [("api.example.com", 443), ("api.example.com", 80), ("api.example.com", 8443)]


def test_the_real_resolver_reads_localhost_as_loopback():
    with pytest.raises(URLRefused, match="loopback"):
        check_base_url("http://localhost:11434/v1", allow_private=False)
    assert check_base_url("http://localhost:11434/v1", allow_private=True).addresses


def test_the_policy_module_imports_only_the_standard_library():
    source = Path(__file__).resolve().parents[3] / "battles" / "egress" / "url_policy.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    import sys

    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
