"""Which URLs and addresses ZakiPost fetches media from: the SSRF guard.

Only ``http``/``https`` URLs without credentials, and only public unicast addresses: no
loopback, private (RFC 1918, ULA), link-local (cloud metadata such as 169.254.169.254 and
``fd00:ec2::254``), carrier-grade NAT, multicast, unspecified, documentation, benchmarking or
reserved ranges, including those addresses hidden inside IPv4-mapped/compatible, NAT64 and
6to4 IPv6 forms. Literal hosts are normalised the way C resolvers read them, so ``2130706433``,
``0x7f000001``, ``0177.0.0.1`` and ``127.1`` are all seen as 127.0.0.1.

:func:`check_url_syntax` does no network I/O (request validation); :func:`check_url_address`
also resolves the host and checks every address. The fetcher checks again at connect time.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import anyio
import httpx

from zakipost.media.errors import (
    MediaFetchTimeout,
    MediaUrlForbidden,
    MediaUrlInvalid,
    MediaUrlUnreachable,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``async (host, port) -> addresses``: how host names become IP address strings."""

_PUBLIC = "ZakiPost only fetches media from public internet addresses"
_PRIVATE = "a private network address"

_V4_FORBIDDEN: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("10.0.0.0/8", _PRIVATE),
        ("100.64.0.0/10", "a carrier-grade NAT address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address (where cloud metadata services live)"),
        ("172.16.0.0/12", _PRIVATE),
        ("192.0.0.0/24", "a reserved (IETF protocol) address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a reserved (6to4 relay) address"),
        ("192.168.0.0/16", _PRIVATE),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)

_V6_FORBIDDEN: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), reason)
    for net, reason in (
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001::/23", "a reserved (IETF protocol) address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("fc00::/7", "a private (unique local) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)

# IPv6 ranges that carry an IPv4 address: (network, bit offset of the IPv4 address from the right).
_V6_EMBEDDING: tuple[tuple[ipaddress.IPv6Network, int, str], ...] = (
    (ipaddress.IPv6Network("::ffff:0:0/96"), 0, "IPv4-mapped"),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), 0, "IPv4-translated"),
    (ipaddress.IPv6Network("64:ff9b::/96"), 0, "NAT64"),
    (ipaddress.IPv6Network("2002::/16"), 80, "6to4"),
    (ipaddress.IPv6Network("::/96"), 0, "IPv4-compatible"),
)
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why media must not be fetched from ``ip`` (e.g. "a loopback address"), or ``None``."""
    if isinstance(ip, ipaddress.IPv4Address):
        return next((reason for net, reason in _V4_FORBIDDEN if ip in net), None)
    for net, reason in _V6_FORBIDDEN[:2]:
        if ip in net:
            return reason
    for net, shift, form in _V6_EMBEDDING:
        if ip in net:
            inner = ipaddress.IPv4Address((int(ip) >> shift) & 0xFFFFFFFF)
            inner_reason = forbidden_reason(inner)
            return f"the {form} form of {inner}, {inner_reason}" if inner_reason else None
    for net, reason in _V6_FORBIDDEN[2:]:
        if ip in net:
            return reason
    if ip not in _V6_GLOBAL_UNICAST:
        return "not a public (global unicast) address"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """The address rule: ``allow_private_networks`` lifts it (development and tests only);
    ``allowed_networks`` lifts it for those networks only."""

    allow_private_networks: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    def reason(self, ip: IPAddress) -> str | None:
        """Why this policy refuses ``ip``, or ``None`` when it may be contacted."""
        if self.allow_private_networks or any(ip in net for net in self.allowed_networks):
            return None
        return forbidden_reason(ip)

    def check(self, ip: IPAddress, *, host: str) -> None:
        """Raise :class:`MediaUrlForbidden` unless ``ip`` (the address of ``host``) is allowed."""
        reason = self.reason(ip)
        if reason is None:
            return
        literal = parse_ip_literal(host)
        if literal is None:
            where = f"{host}, which resolves to {ip},"
        elif str(literal) == host.strip("[]").lower():
            where = f"{host}, which is"
        else:
            where = f"{host} (that is {literal}), which is"
        raise MediaUrlForbidden(
            f"The URL points to {where} {reason}; {_PUBLIC}.",
            details={"host": host, "address": str(ip)},
        )


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a literal host denotes, read as C resolvers do, or ``None`` for a name.

    Accepts ``[v6]`` with an optional zone, and IPv4 in 1 to 4 dot-separated parts, each in
    decimal, octal (leading 0) or hex (0x), the last part filling the remaining bytes.
    """
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(urllib.parse.unquote(host))
        except ValueError:
            return None
    return _parse_legacy_ipv4(host.removesuffix("."))


def _parse_legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [_parse_ipv4_part(part) for part in parts]
    if any(value is None for value in values):
        return None
    numbers = [value for value in values if value is not None]
    *head, last = numbers
    last_bits = 8 * (5 - len(numbers))
    if any(value > 255 for value in head) or last >= 1 << last_bits:
        return None
    number = 0
    for value in head:
        number = number << 8 | value
    return ipaddress.IPv4Address(number << last_bits | last)


def _parse_ipv4_part(part: str) -> int | None:
    if not part.isascii() or not part:
        return None
    if part.startswith("0x"):
        digits, base, allowed = part[2:], 16, "0123456789abcdef"
    elif part.startswith("0") and len(part) > 1:
        digits, base, allowed = part[1:], 8, "01234567"
    else:
        digits, base, allowed = part, 10, "0123456789"
    if not digits or any(char not in allowed for char in digits):
        return None
    return int(digits, base)


def check_url_syntax(
    url: str,
    *,
    allow_private_networks: bool = False,
    allowed_networks: Iterable[IPNetwork] = (),
) -> httpx.URL:
    """Validate a media URL without any network I/O and return it parsed.

    Refuses (:class:`MediaUrlInvalid`) anything but absolute ``http``/``https`` URLs with a
    host and without user name or password, and (:class:`MediaUrlForbidden`) literal
    addresses in any spelling, and ``localhost`` names, that the address rule forbids.
    """
    policy = AddressPolicy(allow_private_networks, tuple(allowed_networks))
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        hostname = _hostname_of_unparsable(url)
        literal = parse_ip_literal(hostname)
        if literal is not None:
            policy.check(literal, host=hostname)
        raise MediaUrlInvalid(f"The media URL could not be read: {exc}.") from None
    if parsed.scheme not in ("http", "https"):
        shown = f"{parsed.scheme}://" if parsed.scheme else "a relative URL"
        raise MediaUrlInvalid(f"Only http:// and https:// media URLs can be fetched, not {shown}.")
    host = parsed.host
    if not host:
        raise MediaUrlInvalid("The media URL has no host name.")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        # httpx parses any number as a port; the fetch would only fail later.
        raise MediaUrlInvalid(f"The media URL's port {parsed.port} is not a port (1 to 65535).")
    if parsed.userinfo:
        raise MediaUrlInvalid(
            "The media URL contains a user name or password; "
            "give a link that works without credentials."
        )
    literal = parse_ip_literal(host)
    if literal is not None:
        policy.check(literal, host=host)
    elif _is_localhost_name(host) and policy.reason(ipaddress.IPv4Address("127.0.0.1")):
        raise MediaUrlForbidden(
            f"The URL points to {host}, a loopback name; {_PUBLIC}.", details={"host": host}
        )
    return parsed


def _is_localhost_name(host: str) -> bool:
    # RFC 6761: every name under .localhost is loopback, whatever DNS says.
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def _hostname_of_unparsable(url: object) -> str:
    # httpx refuses some legacy spellings (0177.0.0.1); still say what they really are.
    try:
        return urllib.parse.urlsplit(str(url)).hostname or ""
    except ValueError:
        return ""


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the operating system's resolver, without blocking the loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_checked(
    host: str, port: int, *, policy: AddressPolicy, resolver: Resolver | None = None
) -> list[IPAddress]:
    """Every address of ``host``, each allowed by ``policy``; refuse if any one is not.

    All addresses are checked, not just the first, so a name cannot mix a public address
    with a private one and have a later connection pick the private one.
    """
    literal = parse_ip_literal(host)
    if literal is not None:
        policy.check(literal, host=host)
        return [literal]
    try:
        answers = await (resolver or system_resolver)(host, port)
    except socket.gaierror as exc:
        raise MediaUrlUnreachable(
            f"The host {host} could not be found ({exc.strerror or exc}).",
            retryable=exc.errno == socket.EAI_AGAIN,
            details={"host": host},
        ) from None
    except OSError as exc:
        raise MediaUrlUnreachable(
            f"The host {host} could not be looked up ({errno.errorcode.get(exc.errno or 0, exc)}).",
            details={"host": host},
        ) from None
    addresses: list[IPAddress] = []
    for answer in answers:
        try:
            addresses.append(ipaddress.ip_address(answer))
        except ValueError:
            continue
    if not addresses:
        raise MediaUrlUnreachable(f"The host {host} has no address.", details={"host": host})
    for ip in addresses:
        policy.check(ip, host=host)
    return addresses


async def check_url_address(
    url: str,
    *,
    allow_private_networks: bool,
    resolver: Resolver | None = None,
    allowed_networks: Iterable[IPNetwork] = (),
    resolve_timeout: float = 10.0,
) -> list[IPAddress]:
    """:func:`check_url_syntax`, then resolve the host and check every address it has.

    Returns the addresses. Raises :class:`MediaUrlForbidden`, :class:`MediaUrlInvalid`,
    :class:`MediaUrlUnreachable` (the name does not resolve) or :class:`MediaFetchTimeout`.
    """
    networks = tuple(allowed_networks)
    parsed = check_url_syntax(
        url, allow_private_networks=allow_private_networks, allowed_networks=networks
    )
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    policy = AddressPolicy(allow_private_networks, networks)
    try:
        with anyio.fail_after(resolve_timeout):
            return await resolve_checked(host, port, policy=policy, resolver=resolver)
    except TimeoutError:
        raise MediaFetchTimeout(
            f"Looking up the host {parsed.host} took longer than {resolve_timeout:g} s."
        ) from None
