"""Email messages as bytes, built directly: headers, MIME parts, transfer encodings.

Why not `email.message.EmailMessage`: with the SMTP policy it parses every header it is given into a
token tree and refolds it on the way out, which cost 2.5 ms per message — half of the relay's processor
time per send in `rumbo demo`. What rumbo sends always has the same shape (one text part, or text and
HTML alternatives, under a fixed set of headers), so the bytes are built here with a few joins, keeping
the rules the email package applied:

* CRLF line ends; header lines folded to 78 characters where they can be broken, never over 998;
* non-ASCII in a subject or a display name as RFC 2047 encoded-words (UTF-8, base64), never raw;
  a subject that looks like an encoded-word itself (`=?...?=`) is encoded too, so it shows as typed;
* a body that is ASCII (no NUL) with lines of at most 998 bytes goes as 7bit; any other as quoted-printable or
  base64, whichever is shorter — never 8bit, since the SMTP session does not negotiate 8BITMIME;
* no header value carries a line break: in a subject they become spaces, an address with one is refused
  (it would let a profile trait inject headers).

tests/delivery/test_mime.py parses what this builds back with the standard library's parser.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from email.utils import formataddr, getaddresses

CRLF = "\r\n"
_FOLD = 78  # RFC 5322: lines SHOULD be at most 78 characters...
_LIMIT = 998  # ...and MUST be at most 998
# Bytes of text per encoded-word: "Subject: =?utf-8?b?" plus 52 base64 characters and "?=" is 73 characters,
# within RFC 2047's 76 for a line holding an encoded-word.
_WORD_BYTES = 39
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]+")
# A bare ASCII address that needs no parsing: what nearly every customer's email trait is.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")


class AddressError(ValueError):
    """An address that cannot go into a header or an SMTP envelope; the message says what is wrong."""


def encoded_words(text: str) -> list[str]:
    """`text` as RFC 2047 encoded-words (UTF-8, base64), each short enough for a line of its own.

    Cut between characters, never inside one: a decoder joins adjacent words without the space between.
    """
    data = text.encode("utf-8", "replace")
    words = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a UTF-8 continuation byte
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode()}?=")
        start = end
    return words


def _fold_words(name: str, words: list[str]) -> str:
    """`name:` and the words, space-separated, with a line break before a word that would pass 78.

    Breaking at a space keeps the value (unfolding removes only the CRLF); an empty word, from two spaces
    in a row, never starts a line, which would leave a line of whitespace alone.
    """
    lines: list[str] = []
    line = f"{name}:"
    for index, word in enumerate(words):
        if index and word and len(line) + 1 + len(word) > _FOLD:
            lines.append(line)
            line = ""
        line += f" {word}"
    lines.append(line)
    return CRLF.join(lines) + CRLF


def text_header(name: str, value: str) -> str:
    """An unstructured header (Subject), with its CRLF: one line of plain ASCII when it can be."""
    value = _CONTROLS.sub(" ", value)
    if value.isascii() and "=?" not in value:
        line = f"{name}: {value}"
        if len(line) <= _FOLD:
            return line + CRLF
        folded = _fold_words(name, value.split(" "))
        if all(len(part) <= _LIMIT for part in folded.split(CRLF)):
            return folded
    return _fold_words(name, encoded_words(value))


def mailbox(address: str) -> tuple[str, str]:
    """One address as (header value, envelope address); raise AddressError saying what is wrong with it.

    A display name is kept ("Ana Müller <ana@example.com>", encoded per RFC 2047 when not ASCII) and an
    internationalised domain is written in IDNA form. Non-ASCII before the @ would need SMTPUTF8, which
    rumbo does not use, so such an address is refused rather than mangled.
    """
    if _PLAIN_ADDRESS.fullmatch(address):
        return address, address
    if _CONTROLS.search(address):
        raise AddressError(f"{address!r} contains a line break or control character")
    pairs = getaddresses([address])
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        raise AddressError(f"{address!r} is not one email address")
    name, addr = pairs[0]
    local, _, domain = addr.rpartition("@")
    if not local or not domain:
        raise AddressError(f"{address!r} is not one email address")
    if not local.isascii():
        raise AddressError(
            f"{address!r} has non-ASCII characters before the @, which needs SMTPUTF8; rumbo sends without it"
        )
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise AddressError(
                f"{address!r} has a domain that is not a valid internationalised name"
            ) from exc
    addr = f"{local}@{domain}"
    if not name:
        return addr, addr
    if name.isascii():
        return formataddr((name, addr)), addr
    return f"{' '.join(encoded_words(name))} <{addr}>", addr


def encode_body(text: str) -> tuple[str, bytes]:
    """A text part's body as (Content-Transfer-Encoding, bytes with CRLF line ends)."""
    lines = text.encode("utf-8", "replace").splitlines()
    body = b"\r\n".join(lines) + b"\r\n"
    # RFC 2045's 7bit: ASCII, no NUL, lines of at most 998 bytes.
    if body.isascii() and b"\0" not in body and max(map(len, lines), default=0) <= _LIMIT:
        return "7bit", body
    quoted = binascii.b2a_qp(body, istext=True)  # soft line breaks at 76; keeps the CRLFs
    encoded = base64.encodebytes(body).replace(b"\n", b"\r\n")
    return ("quoted-printable", quoted) if len(quoted) <= len(encoded) else ("base64", encoded)


def _part_headers(subtype: str, encoding: str) -> str:
    return f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}Content-Transfer-Encoding: {encoding}{CRLF}'


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message ready for SMTP: the envelope's sender and recipient, and the bytes after DATA."""

    sender: str
    recipient: str
    data: bytes


def mime_message(headers: str, key: str, text: str, html: str | None) -> bytes:
    """`headers` (CRLF-ended lines) followed by the text, or text and HTML as multipart/alternative.

    The boundary is derived from `key`, so a resend is the same bytes but for its Date.
    """
    encoding, body = encode_body(text)
    if html is None:
        return f"{headers}MIME-Version: 1.0{CRLF}{_part_headers('plain', encoding)}{CRLF}".encode() + body
    html_encoding, html_body = encode_body(html)
    boundary = "=_" + hashlib.sha256(key.encode()).hexdigest()[:24]
    # "=_" appears in neither quoted-printable nor base64 output; a 7bit part could hold it only by chance.
    while f"--{boundary}".encode() in body or f"--{boundary}".encode() in html_body:
        boundary += "_"
    delimiter = f"{CRLF}--{boundary}{CRLF}".encode()
    return b"".join(
        (
            f"{headers}MIME-Version: 1.0{CRLF}"
            f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}'.encode(),
            delimiter,
            f"{_part_headers('plain', encoding)}{CRLF}".encode(),
            body,
            delimiter,
            f"{_part_headers('html', html_encoding)}{CRLF}".encode(),
            html_body,
            f"{CRLF}--{boundary}--{CRLF}".encode(),
        )
    )
