"""Which base URLs Arena may call: the check against server-side request forgery.

An admin types a base URL and Arena's workers then POST to it, with an API
key, from inside the company network. ``check_base_url`` decides whether
that is acceptable:

* http:// or https:// only, with a host, and without user info, a query, a
  fragment, whitespace or backslashes (the places where URL parsers disagree
  about which host is meant);
* IPv4 addresses only in the usual four-decimal form: ``2852039166``,
  ``0251.0376.0251.0376`` or ``127.1`` are other spellings of an address that
  some resolvers accept, so they are refused rather than interpreted;
* the host is resolved and *every* address must pass: link-local
  (169.254.0.0/16, fe80::/10), cloud metadata, unspecified, multicast,
  reserved and other special-purpose addresses are always refused; private
  (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) and loopback addresses
  only with ``allow_private`` (a local vLLM or Ollama). IPv4 addresses
  embedded in IPv6 ones (``::ffff:a.b.c.d``, NAT64, 6to4) are judged as the
  IPv4 address they carry.

A host name that does not resolve is reported as ``HostNotResolved``, not as a
refusal: nothing can be said about it now, and a caller that goes on to
connect must check again (DNS answers change; check right before each call).

Pure: standard library only, the resolver comes in as an argument.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "BaseURLError",
    "Endpoint",
    "HostNotResolved",
    "URLRefused",
    "check_base_url",
    "checked_addresses",
    "system_resolver",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]

ALLOW_HINT = "set ARENA_ALLOW_PRIVATE_ENDPOINTS=1 to allow a local vLLM or Ollama"

# Instance metadata services hand out cloud credentials to whoever asks.
METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server
    )
)

_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_PRIVATE_V4 = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
    )
)
_PRIVATE_V6 = tuple(ipaddress.ip_network(n) for n in ("fc00::/7", "fec0::/10"))
_NAT64 = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_TEREDO = ipaddress.ip_network("2001::/32")

_HOST_CHARS = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?\.?$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f\\]")


class BaseURLError(ValueError):
    """A base URL that cannot be used now; ``reason`` is safe to show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class URLRefused(BaseURLError):
    """The URL must not be called."""


class HostNotResolved(BaseURLError):
    """The host name has no address at the moment; nothing is known about it."""


@dataclass(frozen=True)
class Endpoint:
    """A URL that passed: its host, port and the addresses that were checked."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, as ``socket.getaddrinfo`` sees them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def check_base_url(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> Endpoint:
    """Return the Endpoint of ``url`` or raise URLRefused / HostNotResolved."""
    if not isinstance(url, str) or not url.strip():
        raise URLRefused("Enter a base URL.")
    url = url.strip()
    if _BAD_CHARS.search(url):
        raise URLRefused("The URL contains whitespace, control characters or a backslash.")
    if not url.isascii():
        raise URLRefused("Write the URL in ASCII (an internationalised host name in its xn-- form).")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise URLRefused("Only http:// and https:// URLs are allowed.")
    if not parts.netloc:
        raise URLRefused("The URL has no host.")
    if "@" in parts.netloc:
        raise URLRefused("User names and passwords in the URL are not allowed (use the API key fields).")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise URLRefused("A base URL has no ?query or #fragment.")
    try:
        port = parts.port
    except ValueError:
        raise URLRefused("The port is not a number between 0 and 65535.") from None
    host = parts.hostname or ""
    if not host:
        raise URLRefused("The URL has no host.")
    if port is None:
        port = 443 if parts.scheme.lower() == "https" else 80

    host, addresses = checked_addresses(
        host, port, allow_private=allow_private, resolver=resolver, bracketed=parts.netloc.startswith("[")
    )
    return Endpoint(url=url, host=host, port=port, addresses=addresses)


def checked_addresses(
    host: str, port: int, *, allow_private: bool, resolver: Resolver = system_resolver, bracketed: bool = False
) -> tuple[str, tuple[str, ...]]:
    """The host (normalised) and every address it resolves to, each one checked.

    Raises URLRefused when any address must not be called and HostNotResolved
    when the name has no address now. ``check_base_url`` runs this on the URL;
    the guarded HTTP transport (``battles.egress.guarded_http``) runs it again when it
    opens a connection and connects only to these addresses, so a DNS answer
    that changes in between (rebinding) cannot redirect the call.
    """
    literal = _ip_literal(host, bracketed=bracketed)
    if literal is not None:
        _check_address(literal, allow_private=allow_private, shown=host)
        return host, (str(literal),)

    name = host.rstrip(".")
    if not _HOST_CHARS.match(host) or not name:
        raise URLRefused("The host name contains characters a host name cannot have.")
    if name in METADATA_HOSTS:
        raise URLRefused(f"{name} is a cloud metadata service.")
    if name == "localhost" or name.endswith(".localhost"):
        _check_address(ipaddress.ip_address("127.0.0.1"), allow_private=allow_private, shown=name)
    try:
        found = list(resolver(name, port))
    except (OSError, UnicodeError) as exc:
        raise HostNotResolved(f"The host {name} could not be resolved ({_resolver_detail(exc)}).") from None
    if not found:
        raise HostNotResolved(f"The host {name} has no address.")
    addresses = []
    for text in found:
        try:
            address = ipaddress.ip_address(str(text).split("%", 1)[0])
        except ValueError:
            raise URLRefused(f"The host {name} resolved to something that is not an IP address.") from None
        _check_address(address, allow_private=allow_private, shown=f"{name} ({address})")
        addresses.append(str(address))
    return name, tuple(dict.fromkeys(addresses))


def _ip_literal(host: str, *, bracketed: bool) -> Address | None:
    """The address a literal host names; None for a host name.

    Only the canonical forms count as literals. A host whose last label is a
    number is meant as an IPv4 address by browsers and by inet_aton, so a
    non-canonical one is refused instead of being passed to a resolver that
    would read it as one.
    """
    if bracketed or ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise URLRefused("The IPv6 address in the URL is not valid.") from None
    last_label = host.rstrip(".").rsplit(".", 1)[-1]
    if _NUMERIC_LABEL.match(last_label):
        try:
            return ipaddress.IPv4Address(host.rstrip("."))
        except ValueError:
            raise URLRefused(
                "Write an IPv4 address as four decimal numbers without leading zeros, e.g. 10.0.0.5."
            ) from None
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64) or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _check_address(address: Address, *, allow_private: bool, shown: str) -> None:
    """Raise URLRefused unless an outbound call to ``address`` is acceptable."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            _check_address(inner, allow_private=allow_private, shown=f"{shown} = {inner}")
            return
        if address in _TEREDO:
            raise URLRefused(f"{shown} is a tunnelled (Teredo) address.")
    if address in METADATA_ADDRESSES:
        raise URLRefused(f"{shown} is a cloud metadata address.")
    if address.is_unspecified or (address.version == 4 and address in _THIS_NETWORK):
        raise URLRefused(f"{shown} is not a destination address.")
    if address.is_link_local:
        raise URLRefused(f"{shown} is a link-local address.")
    if address.is_multicast:
        raise URLRefused(f"{shown} is a multicast address.")
    if address.is_loopback:
        if not allow_private:
            raise URLRefused(f"{shown} is a loopback address; {ALLOW_HINT}.")
        return
    private = _PRIVATE_V4 if address.version == 4 else _PRIVATE_V6
    if any(address in network for network in private):
        if not allow_private:
            raise URLRefused(f"{shown} is a private address; {ALLOW_HINT}.")
        return
    if address.is_reserved or not address.is_global:
        raise URLRefused(f"{shown} is a reserved or special-purpose address.")


def _resolver_detail(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror
    return type(exc).__name__
