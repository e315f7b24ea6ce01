"""Identifiers: the `(kind, value)` pairs that point at a customer, and how each kind is normalised.

Two spellings of one address must be one identifier, or the graph would keep two customers for one
person. The rules, per kind:

* ``email``: surrounding whitespace trimmed and lower-cased (the whole address: providers treat the local
  part case-insensitively in practice). It must hold exactly one ``@`` with text on both sides and no
  whitespace.
* ``phone``: E.164-like. Spaces, dots, dashes, slashes and parentheses are dropped; a leading ``00`` becomes
  ``+``. A number without ``+`` takes the workspace's default calling code, if one is set, after dropping one
  trunk ``0`` (``"612 34 56 78"`` with code ``34`` becomes ``+34612345678``). The result is ``+`` and 7 to
  15 digits (E.164 allows at most 15), or the identifier is refused.
* ``user_id``, ``anonymous_id`` and custom kinds: surrounding whitespace trimmed, case kept (ids are
  opaque strings). A custom kind is a lower-case name such as ``crm_id`` or ``loyalty_card``.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from rumbo.errors import RumboError

USER_ID: Final = "user_id"
ANONYMOUS_ID: Final = "anonymous_id"
EMAIL: Final = "email"
PHONE: Final = "phone"

# Strength of each kind: the stronger identifier anchors a customer (see graph.py). Custom kinds sit
# between a phone and an anonymous id: they name a person in another system, but less reliably than a login.
_RANK: Final = {USER_ID: 0, EMAIL: 1, PHONE: 2, ANONYMOUS_ID: 4}
_CUSTOM_RANK: Final = 3

_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PHONE_NOISE = re.compile(r"[\s.\-/()]")
_DIGITS = re.compile(r"^\d{7,15}$")


class IdentifierInvalid(RumboError):
    """An identifier's value cannot be normalised; says which, where it came from, and what to do."""

    def __init__(self, kind: str, value: object, problem: str, where: str | None = None) -> None:
        self.kind = kind
        self.value = value
        self.problem = problem
        self.where = where
        at = f" at {where}" if where else ""
        super().__init__(f"{kind} {value!r}{at}: {problem}")


class Identifier(NamedTuple):
    """One normalised identifier. Build it with `identifier()` so that the value is normalised.

    A named tuple rather than a frozen dataclass: identifiers are dict keys on every resolution, and a
    tuple hashes in C (bench/identity.py: a fifth faster).
    """

    kind: str
    value: str

    @property
    def rank(self) -> tuple[int, str, str]:
        """Sort key: stronger kinds first, then by kind and value, so every choice between them is stable."""
        return (_RANK.get(self.kind, _CUSTOM_RANK), self.kind, self.value)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


def identifier(
    kind: str, value: object, *, calling_code: str | None = None, where: str | None = None
) -> Identifier:
    """The normalised identifier of `kind` for `value`; raises IdentifierInvalid if it cannot be one.

    `calling_code` (digits, such as ``"34"``) completes phone numbers written without ``+``.
    `where` (a JSON path or a file position) is named in the error.
    """
    if not _KIND.match(kind):
        raise IdentifierInvalid(
            kind, value, "the kind must be a lower-case name such as 'email' or 'crm_id'", where
        )
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise IdentifierInvalid(kind, value, "the value must be a string", where)
    text = str(value).strip()
    if not text:
        raise IdentifierInvalid(kind, value, "the value is empty; leave the field out instead", where)
    if kind == EMAIL:
        return Identifier(kind, normalise_email(text, where))
    if kind == PHONE:
        return Identifier(kind, normalise_phone(text, calling_code, where))
    return Identifier(kind, text)


def normalise_email(text: str, where: str | None = None) -> str:
    """`text` trimmed and lower-cased; refuses anything that is not `local@domain` without whitespace."""
    email = text.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or not domain or "@" in domain or any(ch.isspace() for ch in email):
        raise IdentifierInvalid(EMAIL, text, "not an email address (expected local@domain)", where)
    return email


def normalise_phone(text: str, calling_code: str | None = None, where: str | None = None) -> str:
    """`text` as ``+`` and 7 to 15 digits, by the rule in the module docstring."""
    number = _PHONE_NOISE.sub("", text.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    if not number.startswith("+"):
        if not calling_code:
            raise IdentifierInvalid(
                PHONE,
                text,
                "no country calling code; write the number as +<code><number> or set a default calling code",
                where,
            )
        if not calling_code.isdigit():
            problem = f"the default calling code {calling_code!r} is not digits"
            raise IdentifierInvalid(PHONE, text, problem, where)
        number = "+" + calling_code + (number[1:] if number.startswith("0") else number)
    if not _DIGITS.match(number[1:]):
        raise IdentifierInvalid(
            PHONE, text, "a phone number is + and 7 to 15 digits (spaces, dots, dashes allowed)", where
        )
    return number
