"""Our Graph and SharePoint clients signed in as an emulator user, with tokens the emulator
issues as Entra would: the contract tests of the clients (tests/contract/test_clients.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from m365_emulator.tenant import Tenant, User
from m365_emulator.tokens import GRAPH_RESOURCE, issue_access_token
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.requester import RetryPolicy
from webapp.microsoft.session import decorated_user_agent
from webapp.microsoft.sharepoint import SharePointClient

CLIENT_ID = "contract-tests"
GRAPH_SCOPES = ["User.Read", "User.ReadWrite", "User.ReadBasic.All"]  # the app's (settings.py)
SHAREPOINT_SCOPES = ["AllSites.Write"]
USER_AGENT = decorated_user_agent("Contoso", "1.0")
# Back-off short enough for tests, budget as in production (security.md §0 item 7).
TEST_RETRY = RetryPolicy(budget=10.0, max_retries=3, backoff_base=0.1, backoff_max=1.0)


@dataclass
class Tokens:
    """Access tokens for one user, issued by the emulator as Entra would (per resource)."""

    tenant: Tenant
    user: User
    issued: list[str] = field(default_factory=list)  # resources, in order
    forced: int = 0
    graph_scopes: list[str] = field(default_factory=lambda: list(GRAPH_SCOPES))

    def graph(self, force_refresh: bool = False) -> str:
        self.forced += force_refresh
        self.issued.append(GRAPH_RESOURCE)
        return issue_access_token(
            self.tenant, self.user, CLIENT_ID, GRAPH_RESOURCE, self.graph_scopes
        )

    def sharepoint(self, origin: str, force_refresh: bool = False) -> str:
        self.forced += force_refresh
        self.issued.append(origin)
        return issue_access_token(self.tenant, self.user, CLIENT_ID, origin, SHAREPOINT_SCOPES)


@dataclass
class Clients:
    """Our two clients signed in as one emulator user."""

    user: User
    tokens: Tokens
    graph: GraphClient
    sharepoint: SharePointClient


def add_user(
    tenant: Tenant, *, has_mailbox: bool = True, directory: dict[str, object] | None = None
) -> User:
    """A fresh directory user with an empty SharePoint profile."""
    name = f"user{uuid.uuid4().hex[:8]}"
    upn = f"{name}@{tenant.domain}"
    user = User(
        key=name,
        oid=str(uuid.uuid4()),
        upn=upn,
        directory={"displayName": name.title(), "mail": upn, **(directory or {})},
        demonstrates="contract tests",
        has_mailbox=has_mailbox,
    )
    user.sharepoint.exchange_sync_state = "1" if has_mailbox else "0"
    return tenant.add_user(user)
