"""The address rule and URL syntax checks (no network: DNS is injected)."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.media.conftest import FakeDNS
from zakipost.media import (
    MediaFetchTimeout,
    MediaUrlForbidden,
    MediaUrlInvalid,
    MediaUrlUnreachable,
    check_url_address,
    check_url_syntax,
    forbidden_reason,
)
from zakipost.media.guard import AddressPolicy, parse_ip_literal, system_resolver

FORBIDDEN_URLS = [
    "http://127.0.0.1/v.mp4",
    "http://127.255.255.254:8080/v.mp4",
    "http://2130706433/v.mp4",  # decimal 127.0.0.1
    "http://0x7f000001/v.mp4",  # hex
    "http://0x7f.0.0.1/v.mp4",
    "http://0177.0.0.1/v.mp4",  # octal (httpx refuses to parse it; still named forbidden)
    "http://127.1/v.mp4",  # short-dotted
    "http://127.0.0.1./v.mp4",  # trailing dot
    "http://[::1]/v.mp4",
    "http://[::ffff:127.0.0.1]/v.mp4",  # IPv4-mapped
    "http://[::ffff:7f00:1]/v.mp4",
    "http://[::127.0.0.1]/v.mp4",  # IPv4-compatible
    "http://[64:ff9b::7f00:1]/v.mp4",  # NAT64
    "http://[2002:7f00:1::1]/v.mp4",  # 6to4 of 127.0.0.1
    "http://[::]/v.mp4",
    "http://0.0.0.0/v.mp4",
    "http://0/v.mp4",
    "http://10.1.2.3/v.mp4",
    "http://172.16.0.1/v.mp4",
    "http://172.31.255.255/v.mp4",
    "http://192.168.1.1/v.mp4",
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/latest/meta-data/",  # decimal 169.254.169.254
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://100.64.0.1/v.mp4",  # carrier-grade NAT
    "http://100.127.255.255/v.mp4",
    "http://224.0.0.1/v.mp4",
    "http://[ff02::1]/v.mp4",
    "http://255.255.255.255/v.mp4",
    "http://240.0.0.1/v.mp4",
    "http://198.18.0.1/v.mp4",  # benchmarking
    "http://192.0.2.10/v.mp4",  # documentation
    "http://[2001:db8::1]/v.mp4",
    "http://localhost:8000/v.mp4",
    "http://media.localhost/v.mp4",
    "http://LOCALHOST./v.mp4",
]

PUBLIC_URLS = [
    "https://cdn.example.com/v.mp4",
    "http://93.184.216.34/v.mp4",
    "http://100.128.0.1/v.mp4",  # just past carrier-grade NAT
    "http://172.32.0.1/v.mp4",  # just past 172.16/12
    "https://[2606:4700:4700::1111]:8443/v.mp4",
    "http://[2002:808:808::1]/v.mp4",  # 6to4 of 8.8.8.8
    "http://[64:ff9b::808:808]/v.mp4",  # NAT64 of 8.8.8.8
    "http://[::ffff:8.8.8.8]/v.mp4",
    "https://media.example:65535/path/v.mp4?sig=abc",
]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_forbidden_literal_addresses_are_refused_without_io(url: str) -> None:
    with pytest.raises(MediaUrlForbidden) as caught:
        check_url_syntax(url)
    assert caught.value.code == "media_url_forbidden"
    assert caught.value.retryable is False
    assert "public internet addresses" in caught.value.message


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_public_urls_pass(url: str) -> None:
    assert str(check_url_syntax(url)).startswith(url.split("/")[0])


@pytest.mark.parametrize("url", [u for u in FORBIDDEN_URLS if "0177." not in u])
def test_allow_private_networks_lifts_the_address_rule(url: str) -> None:
    check_url_syntax(url, allow_private_networks=True)


def test_message_names_the_real_address() -> None:
    with pytest.raises(MediaUrlForbidden) as caught:
        check_url_syntax("http://2130706433/v.mp4")
    assert caught.value.message == (
        "The URL points to 2130706433 (that is 127.0.0.1), which is a loopback address; "
        "ZakiPost only fetches media from public internet addresses."
    )
    with pytest.raises(MediaUrlForbidden, match=r"0177\.0\.0\.1 \(that is 127\.0\.0\.1\)"):
        check_url_syntax("http://0177.0.0.1/v.mp4")
    with pytest.raises(MediaUrlForbidden) as caught:
        check_url_syntax("http://[::ffff:169.254.169.254]/")
    assert "IPv4-mapped form of 169.254.169.254, a link-local address" in caught.value.message


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://example.com/v.mp4", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("gopher://example.com/", "Only http:// and https://"),
        ("/relative/v.mp4", "Only http:// and https://"),
        ("http:///v.mp4", "no host"),
        ("http://user:secret@example.com/v.mp4", "user name or password"),
        ("http://user@example.com/v.mp4", "user name or password"),
        ("http://[::1/v.mp4", "could not be read"),
    ],
)
def test_malformed_urls_are_invalid(url: str, fragment: str) -> None:
    with pytest.raises(MediaUrlInvalid) as caught:
        check_url_syntax(url)
    assert fragment in caught.value.message
    assert caught.value.code == "media_url_invalid"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("10.0x10.0300", "10.16.0.192"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("8.8.8.8", "8.8.8.8"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("256.0.0.1", None),
        ("4294967296", None),
        ("08.0.0.1", None),
        ("0x", None),
        ("", None),
    ],
)
def test_literal_hosts_are_read_like_c_resolvers(host: str, expected: str | None) -> None:
    parsed = parse_ip_literal(host)
    assert (str(parsed) if parsed else None) == expected


deterministic = settings(derandomize=True, database=None, max_examples=200)


@deterministic
@given(st.ip_addresses(v=4))
def test_mapped_and_nat64_forms_share_the_ipv4_verdict(address: ipaddress.IPv4Address) -> None:
    forbidden = forbidden_reason(address) is not None
    for form in (f"::ffff:{address}", f"64:ff9b::{address}"):
        assert (forbidden_reason(ipaddress.IPv6Address(form)) is not None) == forbidden


_EMBEDDING = [
    ipaddress.ip_network(n) for n in ("::ffff:0:0/96", "64:ff9b::/96", "2002::/16", "::/96")
]


@deterministic
@given(st.ip_addresses())
def test_everything_allowed_is_global(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    # Forms embedding IPv4 are judged by their IPv4 address (the property above).
    if forbidden_reason(address) is None and not any(address in net for net in _EMBEDDING):
        assert address.is_global


def test_allowed_networks_lift_the_rule_only_for_themselves() -> None:
    policy = AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    assert policy.reason(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.reason(ipaddress.ip_address("127.0.0.2")) == "a loopback address"
    assert policy.reason(ipaddress.ip_address("::1")) == "a loopback address"


async def test_hostname_resolving_to_loopback_is_refused() -> None:
    dns = FakeDNS({"sneaky.example": ["127.0.0.1"]})
    with pytest.raises(MediaUrlForbidden) as caught:
        await check_url_address(
            "https://sneaky.example/v.mp4", allow_private_networks=False, resolver=dns
        )
    assert "sneaky.example, which resolves to 127.0.0.1, a loopback address" in caught.value.message
    assert dns.calls == ["sneaky.example"]


async def test_every_resolved_address_is_checked() -> None:
    dns = FakeDNS({"mixed.example": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(MediaUrlForbidden, match=r"10\.0\.0\.7"):
        await check_url_address("http://mixed.example/", allow_private_networks=False, resolver=dns)


async def test_public_resolution_passes_and_returns_addresses() -> None:
    dns = FakeDNS({"cdn.example": ["93.184.216.34", "2606:4700::1"]})
    addresses = await check_url_address(
        "https://cdn.example/v.mp4", allow_private_networks=False, resolver=dns
    )
    assert [str(a) for a in addresses] == ["93.184.216.34", "2606:4700::1"]


async def test_literal_urls_skip_dns() -> None:
    dns = FakeDNS()
    with pytest.raises(MediaUrlForbidden):
        await check_url_address("http://0x7f000001/", allow_private_networks=False, resolver=dns)
    assert dns.calls == []


async def test_unknown_host_is_unreachable_and_not_retryable() -> None:
    with pytest.raises(MediaUrlUnreachable) as caught:
        await check_url_address(
            "http://nope.example/", allow_private_networks=False, resolver=FakeDNS()
        )
    assert caught.value.retryable is False
    assert "could not be found" in caught.value.message


async def test_temporary_dns_failure_is_retryable() -> None:
    async def flaky(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    with pytest.raises(MediaUrlUnreachable) as caught:
        await check_url_address("http://cdn.example/", allow_private_networks=False, resolver=flaky)
    assert caught.value.retryable is True


async def test_slow_dns_times_out() -> None:
    async def hangs(host: str, port: int) -> list[str]:
        import anyio

        await anyio.sleep_forever()
        raise AssertionError

    with pytest.raises(MediaFetchTimeout):
        await check_url_address(
            "http://cdn.example/",
            allow_private_networks=False,
            resolver=hangs,
            resolve_timeout=0.05,
        )


async def test_system_resolver_answers_and_its_answers_are_checked() -> None:
    assert "127.0.0.1" in await system_resolver("localhost", 80)
    with pytest.raises(MediaUrlForbidden, match="loopback"):
        await check_url_address("http://localhost:9/", allow_private_networks=False)
