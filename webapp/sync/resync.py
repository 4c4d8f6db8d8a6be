"""Re-sync: make SharePoint show the photo Exchange/Entra already has, without writing to Graph.

The fix for "SharePoint shows my old photo / a placeholder" (issue 6 item 5): read the Graph
photo, push the same bytes to SharePoint and ask for the own photo (reference §4.5, §5.2),
then read SharePoint back. The bytes stay in the operation record, so a retry needs no re-read.
"""

from __future__ import annotations

from webapp.microsoft.errors import AuthRequiredError, UpstreamError
from webapp.microsoft.sharepoint import MAX_PICTURE_BYTES
from webapp.photos.pipeline import PhotoRejectedError, PipelineLimits, normalise
from webapp.sync.operations import Kind, Operation, OperationStore, Side, SideState
from webapp.sync.photo_update import Upstreams, start
from webapp.sync.verify import error_code


def resync(ops: OperationStore, up: Upstreams, user: str, form_token: str) -> Operation:
    """Copy the current Graph photo to SharePoint and verify.

    With no Graph photo there is nothing to copy: the op says so (`no_graph_photo`) and
    nothing is written. Raises OperationBusyError and AuthRequiredError as `upload` does.
    """
    again = ops.for_form(user, form_token)
    if again is not None:
        return again
    graph_side = Side(state=SideState.NOT_NEEDED)
    try:
        photo = up.graph.photo()
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        op = ops.new(user, Kind.RESYNC, graph=graph_side)
        op.sharepoint = Side(state=SideState.FAILED, error=error_code(exc), status=exc.status)
        ops.make_latest(op)
        ops.save(op)
        return op
    if photo is None:
        op = ops.new(user, Kind.RESYNC, graph=graph_side)
        op.sharepoint = Side(state=SideState.NOT_NEEDED, error="no_graph_photo")
        ops.make_latest(op)
        ops.save(op)
        return op
    return start(
        ops, up, ops.new(user, Kind.RESYNC, image=_fit(photo.data), graph=graph_side), form_token
    )


def _fit(data: bytes) -> bytes:
    """Graph's photo as SharePoint takes it: any photo over its 5,000,000 bytes is re-encoded."""
    if len(data) <= MAX_PICTURE_BYTES:
        return data
    try:
        return normalise(data, None, PipelineLimits()).data
    except PhotoRejectedError:
        return data
