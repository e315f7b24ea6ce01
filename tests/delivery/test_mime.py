"""The email bytes rumbo builds, read back with the standard library's parser (the strict, modern policy)."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from rumbo.delivery.channels.email import SmtpSettings, build_email
from rumbo.delivery.channels.mime import encode_body, mailbox, text_header
from rumbo.delivery.errors import PermanentDelivery, RetryableDelivery
from rumbo.delivery.message import Message

SETTINGS = SmtpSettings(sender="Tienda Ñandú <shop@example.com>", unsubscribe_mailto="leave@example.com")


def message(**fields: object) -> Message:
    values: dict[str, object] = {
        "workspace": "acme",
        "key": "k-1",
        "customer": "u1",
        "channel": "email",
        "template": "welcome",
        "to": "ana@example.com",
        "subject": "Welcome, Ana",
        "text": "Hello Ana\nSee you soon",
        "html": "<h1>Hello Ana</h1>",
        "message_id": "<abc@rumbo.invalid>",
        "unsubscribe_url": "https://shop.example/delivery/unsubscribe?t=" + "a" * 200,
    }
    values.update(fields)
    return Message(**values)  # type: ignore[arg-type]


def parse(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(mail: EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in mail.walk() if not p.is_multipart()}


def lines(data: bytes) -> list[bytes]:
    assert b"\n" not in data.replace(b"\r\n", b""), "every line ends with CRLF"
    return data.split(b"\r\n")


def test_a_text_and_html_email_has_every_header_and_both_alternatives() -> None:
    out = build_email(message(), SETTINGS)
    assert (out.sender, out.recipient) == ("shop@example.com", "ana@example.com")
    mail = parse(out.data)
    assert mail.defects == []
    assert mail["From"] == "Tienda Ñandú <shop@example.com>"
    assert mail["To"] == "ana@example.com"
    assert mail["Subject"] == "Welcome, Ana"
    assert mail["Message-ID"] == "<abc@rumbo.invalid>"
    assert mail["Date"].datetime is not None
    assert mail["X-Rumbo-Send"] == "k-1"
    assert mail["MIME-Version"] == "1.0"
    assert mail["List-Unsubscribe"] == (
        f"<{message().unsubscribe_url}>, <mailto:leave@example.com?subject=unsubscribe>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in mail.iter_parts())
    assert parts(mail) == {
        "text/plain": "Hello Ana\r\nSee you soon\r\n",
        "text/html": "<h1>Hello Ana</h1>\r\n",
    }
    # The From header's non-ASCII name is an encoded-word on the wire, never raw bytes.
    assert out.data.isascii()
    assert all(len(line) <= 998 for line in lines(out.data))


def test_non_ascii_subjects_names_and_bodies_are_encoded_and_read_back_unchanged() -> None:
    subject = "¡Bienvenida, Añá! Tu pedido 日本語 está listo — " * 3
    text = "Hola Añá,\ncafé con leche\n" + "ünïcödé " * 200
    html = "<p>Hola <b>Añá</b></p>\n<p>naïve café</p>"
    out = build_email(
        message(subject=subject, text=text, html=html, to="Añá Pérez <ana@exämple.com>"), SETTINGS
    )
    assert out.data.isascii()
    header_lines = lines(out.data[: out.data.index(b"\r\n\r\n")])
    assert all(len(line) <= 78 for line in header_lines if not line.startswith(b"List-Unsubscribe:"))
    mail = parse(out.data)
    assert mail["Subject"] == subject
    assert mail["To"].addresses[0].display_name == "Añá Pérez"
    assert mail["To"].addresses[0].addr_spec == "ana@xn--exmple-cua.com"
    assert out.recipient == "ana@xn--exmple-cua.com"
    got = parts(mail)
    assert got["text/plain"] == text.replace("\n", "\r\n") + "\r\n"
    assert got["text/html"] == html.replace("\n", "\r\n") + "\r\n"
    assert {p["Content-Transfer-Encoding"] for p in mail.iter_parts()} <= {"quoted-printable", "base64"}


def test_a_text_only_email_is_one_part_and_long_lines_are_quoted_printable() -> None:
    text = "x" * 1500 + "\nshort line"
    mail = parse(build_email(message(html=None, text=text), SETTINGS).data)
    assert mail.get_content_type() == "text/plain"
    assert not mail.is_multipart()
    assert mail["Content-Transfer-Encoding"] == "quoted-printable"
    assert mail.get_content() == text.replace("\n", "\r\n") + "\r\n"
    empty = parse(build_email(message(html=None, text=""), SETTINGS).data)
    assert empty.get_content() == " \r\n"


def test_line_breaks_in_a_subject_become_spaces_and_cannot_add_headers() -> None:
    mail = parse(build_email(message(subject="Hi\r\nBcc: evil@example.com"), SETTINGS).data)
    assert mail["Subject"] == "Hi Bcc: evil@example.com"
    assert mail["Bcc"] is None


def test_a_subject_that_looks_encoded_shows_as_typed() -> None:
    assert parse(build_email(message(subject="=?utf-8?q?hi?="), SETTINGS).data)["Subject"] == "=?utf-8?q?hi?="


def test_a_long_ascii_subject_is_folded_at_spaces() -> None:
    subject = "Our  biggest sale " + "of the season " * 12
    header = text_header("Subject", subject)
    assert header.count("\r\n") > 1 and all(len(line) <= 78 for line in header.split("\r\n"))
    assert all(line.strip() for line in header.split("\r\n")[:-1])  # no line of whitespace alone
    assert parse(f"{header}\r\nbody\r\n".encode())["Subject"] == subject


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("ana@example.com\r\nBcc: evil@example.com", "line break"),
        ("ana@example.com, bob@example.com", "not one email address"),
        ("not an address", "not one email address"),
        ("añá@example.com", "SMTPUTF8"),
    ],
)
def test_an_address_that_cannot_be_sent_to_fails_that_send_alone_saying_why(address: str, why: str) -> None:
    with pytest.raises(PermanentDelivery, match=why) as caught:
        build_email(message(to=address), SETTINGS)
    assert "u1" in str(caught.value)


def test_a_bad_sender_setting_is_retried_not_dead_lettered() -> None:
    with pytest.raises(RetryableDelivery, match=r"smtp\.sender"):
        build_email(message(), SmtpSettings(sender="shop@example.com, other@example.com"))


def test_addresses_and_bodies_take_the_cheapest_correct_form() -> None:
    assert mailbox("ana.b+tag@mail.example.com") == (
        "ana.b+tag@mail.example.com",
        "ana.b+tag@mail.example.com",
    )
    assert mailbox('"Shop, Inc." <shop@example.com>') == (
        '"Shop, Inc." <shop@example.com>',
        "shop@example.com",
    )
    assert encode_body("plain\nascii") == ("7bit", b"plain\r\nascii\r\n")
    assert encode_body("café")[0] == "quoted-printable"
    assert encode_body("nul\0inside") == ("quoted-printable", b"nul=00inside\r\n")
    assert encode_body("日本語のテキスト" * 20)[0] == "base64"


def test_a_resend_is_the_same_message_but_for_its_date() -> None:
    first, second = (build_email(message(), SETTINGS).data for _ in range(2))
    assert [line for line in lines(first) if not line.startswith(b"Date:")] == [
        line for line in lines(second) if not line.startswith(b"Date:")
    ]
