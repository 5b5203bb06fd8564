"""The guarded transport: TLS is verified against the host name while the checked address is used."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.media.conftest import FakeDNS
from tests.media.server import MediaServer
from zakipost.media import MediaUrlForbidden
from zakipost.media._transport import GuardedTransport
from zakipost.media.guard import AddressPolicy

LOOPBACK_ONE = AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))


def _certificate(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for ``name``: (server context, client context trusting it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    return _certificate(tmp_path, "media.example")


async def test_tls_is_verified_against_the_name_not_the_pinned_address(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, client_context = tls
    server = await MediaServer("127.0.0.1").start(tls=server_context)
    body = server.video("/v.mp4")
    transport = GuardedTransport(
        policy=LOOPBACK_ONE,
        resolver=FakeDNS({"media.example": ["127.0.0.1"]}),
        ssl_context=client_context,
    )
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get(server.url("/v.mp4", host="media.example"))
        assert response.status_code == 200
        assert response.content == body
        assert server.requests[0].headers["host"] == f"media.example:{server.port}"
    finally:
        await server.close()


async def test_a_certificate_for_another_name_is_refused(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, client_context = tls
    server = await MediaServer("127.0.0.1").start(tls=server_context)
    server.video("/v.mp4")
    dns = FakeDNS({"other.example": ["127.0.0.1"]})
    transport = GuardedTransport(policy=LOOPBACK_ONE, resolver=dns, ssl_context=client_context)
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.ConnectError, match="certificate"):
                await client.get(server.url("/v.mp4", host="other.example"))
        assert server.total_hits == 0
    finally:
        await server.close()


async def test_forbidden_address_is_refused_at_connect(internal: MediaServer) -> None:
    transport = GuardedTransport(
        policy=LOOPBACK_ONE, resolver=FakeDNS({"x.example": ["127.0.0.2"]})
    )
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(MediaUrlForbidden):
            await client.get(internal.url("/", host="x.example"))
    assert internal.connections == 0


async def test_falls_back_to_the_next_checked_address(origin: MediaServer) -> None:
    # 127.0.0.3 is allow-listed here but nothing listens there.
    policy = AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/30"),))
    dns = FakeDNS({"multi.example": ["127.0.0.3", "127.0.0.1"]})
    body = origin.video("/v.mp4")
    async with httpx.AsyncClient(transport=GuardedTransport(policy=policy, resolver=dns)) as client:
        response = await client.get(origin.url("/v.mp4", host="multi.example"))
    assert response.content == body
