"""Email with STARTTLS and login against an aiosmtpd server with a self-signed certificate (cryptography)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rumbo.delivery.channels.email import EmailChannel, SmtpSettings
from rumbo.delivery.errors import RetryableDelivery
from rumbo.delivery.message import Message
from tests.peers import smtp_server


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"shop", b"pw")
    return AuthResult(success=ok, handled=False)


def message() -> Message:
    return Message(
        "acme",
        "key-1",
        "u1",
        "email",
        "welcome",
        "u1@example.com",
        "Hi",
        "Hello",
        "<p>Hello</p>",
        "<key-1@rumbo.invalid>",
    )


@pytest.fixture
def tls_server(tmp_path: Path) -> Any:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with smtp_server(
        tls_context=context, require_starttls=True, authenticator=check_login, auth_require_tls=True
    ) as (port, mailbox):
        yield port, mailbox, str(cert)


def test_starttls_and_login_deliver(tls_server: Any) -> None:
    port, mailbox, ca = tls_server
    channel = EmailChannel(SmtpSettings(port=port, starttls=True, username="shop", password="pw", ca_file=ca))
    assert channel.deliver(message()) == "<key-1@rumbo.invalid>"
    channel.close()
    assert [str(m["Message-ID"]) for m in mailbox.received] == ["<key-1@rumbo.invalid>"]


def test_a_wrong_password_is_a_retryable_error_that_says_what_to_check(tls_server: Any) -> None:
    port, mailbox, ca = tls_server
    channel = EmailChannel(
        SmtpSettings(port=port, starttls=True, username="shop", password="nope", ca_file=ca)
    )
    with pytest.raises(RetryableDelivery, match="check the username and password"):
        channel.deliver(message())
    channel.close()
    assert mailbox.received == []


def test_without_starttls_the_server_refuses_and_nothing_is_sent(tls_server: Any) -> None:
    port, mailbox, _ = tls_server
    channel = EmailChannel(SmtpSettings(port=port))
    with pytest.raises(RetryableDelivery, match=r"530 .*set `smtp.starttls`"):
        channel.deliver(message())
    channel.close()
    assert mailbox.received == []
