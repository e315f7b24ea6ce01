"""Identity resolution: identifiers, the identity graph and its merges, and merging customers' data.

Pure logic: the graph keeps its links behind the IdentityStore protocol (store.py); the engine state and
profile merges take values and return values. See docs/identity.md.
"""

from __future__ import annotations

from rumbo.identity.events import MERGE_EVENT, Merge, Refusal, Resolution
from rumbo.identity.graph import IdentityGraph, NoIdentifiers, customer_id
from rumbo.identity.identifiers import Identifier, IdentifierInvalid, identifier
from rumbo.identity.journeys import CustomerMerge, CustomersNotMergeable, merge_customers
from rumbo.identity.messages import identifiers_from_message
from rumbo.identity.profile import ConsentChange, Profile, TraitChange, merge_profiles
from rumbo.identity.rules import IdentityRules, IdentityRulesInvalid
from rumbo.identity.store import IdentityStore, MemoryIdentityStore

__all__ = [
    "MERGE_EVENT",
    "ConsentChange",
    "CustomerMerge",
    "CustomersNotMergeable",
    "Identifier",
    "IdentifierInvalid",
    "IdentityGraph",
    "IdentityRules",
    "IdentityRulesInvalid",
    "IdentityStore",
    "MemoryIdentityStore",
    "Merge",
    "NoIdentifiers",
    "Profile",
    "Refusal",
    "Resolution",
    "TraitChange",
    "customer_id",
    "identifier",
    "identifiers_from_message",
    "merge_customers",
    "merge_profiles",
]
