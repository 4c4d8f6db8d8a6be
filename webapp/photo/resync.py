"""Re-sync: make SharePoint show the photo Exchange/Entra already has now, as far as the tenant
allows, without writing to Graph.

The fix for "SharePoint shows my old photo / a placeholder": under the user's lock, read the
Graph photo, offer the same bytes to SharePoint once (reference §4.5; since 2024 most tenants
refuse it and show the Graph photo through a cache that refreshes by itself, §9.1), then read
back what SharePoint serves. The bytes stay in the operation record, so a retry needs no
re-read; with no Graph photo nothing is written (`NO_GRAPH_PHOTO`).
"""

from __future__ import annotations

from webapp.photo.operations import Kind, Operation, OperationStore, Side, SideState
from webapp.photo.update import Upstreams, start


def resync(ops: OperationStore, up: Upstreams, user: str, form_token: str) -> Operation:
    """Offer the current Graph photo to SharePoint and read back what SharePoint serves.

    Raises OperationBusyError and AuthRequiredError as `update.upload` does.
    """
    op = ops.new(user, Kind.RESYNC, graph=Side(state=SideState.NOT_NEEDED))
    return start(ops, up, op, form_token)
