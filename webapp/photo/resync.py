"""Re-sync: make SharePoint show the photo Exchange/Entra already has, without writing to Graph.

The fix for "SharePoint shows my old photo / a placeholder" (issue 6 item 5): under the user's
lock, read the Graph photo, push the same bytes to SharePoint and ask for the own photo
(reference §4.5, §5.2), then read SharePoint back. The bytes stay in the operation record, so a
retry needs no re-read; with no Graph photo nothing is written (`NO_GRAPH_PHOTO`).
"""

from __future__ import annotations

from webapp.photo.operations import Kind, Operation, OperationStore, Side, SideState
from webapp.photo.update import Upstreams, start


def resync(ops: OperationStore, up: Upstreams, user: str, form_token: str) -> Operation:
    """Copy the current Graph photo to SharePoint and verify.

    Raises OperationBusyError and AuthRequiredError as `update.upload` does.
    """
    op = ops.new(user, Kind.RESYNC, graph=Side(state=SideState.NOT_NEEDED))
    return start(ops, up, op, form_token)
