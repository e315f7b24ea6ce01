"""The safety rules a merge must pass: one user id per customer, and a cap per identifier kind."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from rumbo.errors import RumboError
from rumbo.identity.identifiers import USER_ID, Identifier

RefusalReason = Literal["user_id_conflict", "cap_exceeded"]

# At most three addresses and three phone numbers per person: enough for work, home and an old one,
# few enough that a shared inbox or a call-centre number typed into every form cannot glue strangers.
DEFAULT_CAPS: Final[Mapping[str, int]] = {USER_ID: 1, "email": 3, "phone": 3}


class IdentityRulesInvalid(RumboError):
    """The identity rules of a workspace are not usable; says which setting and what to write."""


@dataclass(frozen=True, slots=True)
class IdentityRules:
    """How many identifiers of each kind one customer may hold (kinds not named are unlimited).

    The user id cap is always 1: two user ids are two accounts, and merging accounts is never guessed.
    """

    caps: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPS))

    def __post_init__(self) -> None:
        for kind, cap in self.caps.items():
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
                raise IdentityRulesInvalid(
                    f"identity cap for {kind!r} is {cap!r}; write a whole number of at least 1, "
                    "or leave the kind out for no cap"
                )
        if self.caps.get(USER_ID, 1) != 1:
            raise IdentityRulesInvalid(
                f"identity cap for 'user_id' is {self.caps[USER_ID]!r}; a customer holds one user id, "
                "so leave it out or write 1"
            )

    def cap(self, kind: str) -> int | None:
        return 1 if kind == USER_ID else self.caps.get(kind)

    def violation(self, identifiers: Iterable[Identifier]) -> tuple[RefusalReason, str] | None:
        """Why one customer may not hold all of `identifiers` together, or None if it may."""
        counts = Counter(i.kind for i in identifiers)
        users = counts.get(USER_ID, 0)
        if users > 1:
            return "user_id_conflict", f"would hold {users} different user ids"
        for kind, count in sorted(counts.items()):
            cap = self.cap(kind)
            if cap is not None and count > cap:
                return "cap_exceeded", f"would hold {count} of kind {kind!r}, over the cap of {cap}"
        return None
