"""Wire parsing of the Graph user: what the profile page needs to know before any save."""

from __future__ import annotations

import pytest

from webapp.microsoft.errors import BadResponseError
from webapp.microsoft.models import GraphUser


def test_a_synced_account_is_recognised_from_graph() -> None:
    user = GraphUser.from_graph({"id": "1", "onPremisesSyncEnabled": True})
    assert user.on_premises_sync_enabled is True
    # Cloud-only accounts answer null (user resource, reference §8.9 [S59]).
    assert (
        GraphUser.from_graph({"id": "1", "onPremisesSyncEnabled": None}).on_premises_sync_enabled
        is None
    )


def test_a_non_boolean_sync_flag_is_a_bad_response() -> None:
    with pytest.raises(BadResponseError):
        GraphUser.from_graph({"id": "1", "onPremisesSyncEnabled": "yes"})
