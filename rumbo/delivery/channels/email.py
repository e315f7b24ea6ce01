"""Email over SMTP (smtplib): STARTTLS and login when configured, HTML and text parts, List-Unsubscribe.

One connection is kept open across messages (a new SMTP session per message would cost a handshake
each) and reopened when the server drops it. The Message-ID is derived from the send's idempotency key,
so a message resent after a crash carries the same Message-ID as the first copy and receivers that
deduplicate by Message-ID show it once. The message's bytes are built by `mime.py`, not the email package
(why: see there), and handed to `sendmail` as they are.

SMTP replies map to rumbo errors: 4xx and connection failures are retryable, 5xx are permanent.
"""

from __future__ import annotations

import functools
import smtplib
import ssl
from dataclasses import dataclass
from email.utils import formatdate

from rumbo.delivery.channels.mime import CRLF, AddressError, Outgoing, mailbox, mime_message, text_header
from rumbo.delivery.errors import PermanentDelivery, RetryableDelivery
from rumbo.delivery.message import Message


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to submit email. `starttls` upgrades a plain connection; `ssl` connects over TLS."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "rumbo@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0
    # For tests and private relays with their own CA: a CA bundle file to trust for STARTTLS/SSL.
    ca_file: str | None = None
    unsubscribe_mailto: str | None = None  # an extra mailto: List-Unsubscribe target, if the sender has one


# Replies about the session's security rather than the message: 530 STARTTLS or authentication required,
# 534/538 a stronger mechanism or encryption required, 535 bad credentials.
_SETTINGS_CODES = frozenset({530, 534, 535, 538})


@functools.lru_cache(maxsize=16)
def _sender(sender: str) -> tuple[str, str]:
    """The From header value and the envelope sender for `smtp.sender`, worked out once per setting."""
    try:
        return mailbox(sender)
    except AddressError as exc:
        # Every email would fail the same way until the settings are fixed: retried, not dead-lettered.
        raise RetryableDelivery("email", f"smtp.sender {exc}: fix it in the delivery settings") from exc


def build_email(message: Message, settings: SmtpSettings) -> Outgoing:
    """The message for a rendered email: text and HTML alternatives, unsubscribe headers, as SMTP bytes."""
    if not message.to:
        raise PermanentDelivery("email", f"customer {message.customer!r} has no email address")
    sender_header, sender = _sender(settings.sender)
    try:
        to_header, recipient = mailbox(message.to)
    except AddressError as exc:
        raise PermanentDelivery(
            "email", f"customer {message.customer!r}'s email address {exc}: correct the profile's trait"
        ) from exc
    headers = [
        f"From: {sender_header}{CRLF}",
        f"To: {to_header}{CRLF}",
        text_header("Subject", message.subject),
        f"Message-ID: {message.message_id}{CRLF}",
        f"Date: {formatdate(localtime=False)}{CRLF}",
        f"X-Rumbo-Send: {message.key}{CRLF}",
    ]
    targets = []
    if message.unsubscribe_url:
        targets.append(f"<{message.unsubscribe_url}>")
    if settings.unsubscribe_mailto:
        targets.append(f"<mailto:{settings.unsubscribe_mailto}?subject=unsubscribe>")
    if targets:
        # Long URLs stay whole on their line (up to 998 characters); only the list is broken between them.
        headers.append(f"List-Unsubscribe: {f',{CRLF} '.join(targets)}{CRLF}")
        if message.unsubscribe_url:
            # RFC 8058: mailbox providers may unsubscribe with one POST to the URL, no page visit needed.
            headers.append(f"List-Unsubscribe-Post: List-Unsubscribe=One-Click{CRLF}")
    data = mime_message("".join(headers), message.key, message.text or " ", message.html or None)
    return Outgoing(sender, recipient, data)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


class EmailChannel:
    """The email channel over one SMTP connection, opened on first use."""

    name = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.ca_file)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP | None = None
        try:
            if s.ssl:
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.starttls:
                    smtp.starttls(context=self._context())
            if s.username:
                smtp.login(s.username, s.password or "")
            return smtp
        except BaseException:
            if smtp is not None:
                smtp.close()
            raise

    def _open(self) -> smtplib.SMTP:
        """A new session, with connection and login failures turned into rumbo errors."""
        s = self.settings
        try:
            return self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            # Retryable: every message would fail the same way until the credentials are fixed, and
            # dead-lettering them all would lose them.
            raise RetryableDelivery(
                "email",
                f"SMTP login to {s.host}:{s.port} refused ({exc.smtp_code}): "
                "check the username and password in the delivery settings",
            ) from exc
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise RetryableDelivery(
                "email", f"cannot open an SMTP session with {s.host}:{s.port}: {exc}"
            ) from exc

    def deliver(self, message: Message) -> str | None:
        mail = build_email(message, self.settings)
        if self._smtp is None:
            self._smtp = self._open()
        try:
            refused = self._smtp.sendmail(mail.sender, [mail.recipient], mail.data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            self._classify(code, f"recipient {message.to} refused: {code} {_text(reason)}")
        except smtplib.SMTPResponseException as exc:
            self._classify(exc.smtp_code, f"server answered {exc.smtp_code} {_text(exc.smtp_error)}")
        except (smtplib.SMTPException, OSError) as exc:
            # The session is broken (dropped, timed out): reconnect on the next message.
            self.close()
            raise RetryableDelivery("email", f"SMTP session with {self.settings.host} failed: {exc}") from exc
        if refused:
            code, reason = next(iter(refused.values()))
            self._classify(code, f"recipient {message.to} refused: {code} {_text(reason)}")
        return message.message_id

    def _classify(self, code: int, what: str) -> None:
        if code in _SETTINGS_CODES:
            # The server wants TLS or a login: every message would get this until the settings are fixed,
            # so it is retried rather than dead-lettering the whole outbox.
            self.close()
            raise RetryableDelivery(
                "email", f"{what} — set `smtp.starttls` (or `smtp.ssl`) and `smtp.username`/`smtp.password`"
            )
        if 500 <= code < 600:
            raise PermanentDelivery("email", what)
        # 4xx, or a reply that fits neither: the server may accept it later. Reset the session's state.
        self.close()
        raise RetryableDelivery("email", what)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
