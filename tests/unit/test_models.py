"""Wire parsing of the Graph user: what the profile page needs to know before any save."""

from __future__ import annotations

import pytest

from webapp.microsoft.errors import BadResponseError
from webapp.microsoft.models import GraphUser, PhotoMeta


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


def test_an_entra_stored_photo_is_sized_by_its_width_and_height_not_its_id() -> None:
    meta = PhotoMeta.from_graph(
        {"id": "Default", "width": 1024, "height": 1024, "@odata.mediaContentType": "image/jpeg"}
    )
    assert (meta.id, meta.size, meta.is_placeholder) == ("Default", "1024x1024", False)
