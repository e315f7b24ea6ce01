"""The identifiers a Segment message carries, normalised, with a JSON path in every error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rumbo.identity.identifiers import (
    ANONYMOUS_ID,
    EMAIL,
    PHONE,
    USER_ID,
    Identifier,
    IdentifierInvalid,
    identifier,
)


def identifiers_from_message(
    message: Mapping[str, Any], *, calling_code: str | None = None
) -> tuple[Identifier, ...]:
    """`userId`, `anonymousId`, `email` and `phone` from `traits` (or `context.traits`), and
    `context.externalIds` (``[{"id": ..., "type": "crm_id"}]``, Segment's convention for custom ids).

    Missing and null fields are skipped; a present but unusable value raises IdentifierInvalid naming its
    JSON path, because silently dropping it could leave the customer split in two.
    """
    found: list[Identifier] = []

    def take(kind: str, value: Any, where: str) -> None:
        if value is not None:
            found.append(identifier(kind, value, calling_code=calling_code, where=where))

    take(USER_ID, message.get("userId"), "$.userId")
    take(ANONYMOUS_ID, message.get("anonymousId"), "$.anonymousId")
    context = message.get("context")
    context = context if isinstance(context, Mapping) else {}
    for path, traits in (("$.traits", message.get("traits")), ("$.context.traits", context.get("traits"))):
        if isinstance(traits, Mapping):
            take(EMAIL, traits.get("email"), f"{path}.email")
            take(PHONE, traits.get("phone"), f"{path}.phone")
    external = context.get("externalIds")
    if isinstance(external, list):
        for n, item in enumerate(external):
            where = f"$.context.externalIds[{n}]"
            if isinstance(item, Mapping) and isinstance(item.get("type"), str):
                take(str(item["type"]).strip().lower(), item.get("id"), where)
            else:
                problem = 'an external id is {"id": ..., "type": ...} with the type a name such as "crm_id"'
                raise IdentifierInvalid("external_id", item, problem, where)
    return tuple(sorted(set(found), key=lambda i: i.rank))
