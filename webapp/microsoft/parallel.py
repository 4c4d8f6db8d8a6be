"""The one parallel reader: Graph and SharePoint calls started together on worker threads.

A page that shows both services waits for the slower one, not for their sum. Each call runs
in a copy of the caller's context, so token providers that rely on context variables (the
request's session) work on the worker threads; a failed call comes back as a value, so one
service down still shows the other.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, Protocol, TypeVar

from webapp.microsoft.errors import AuthRequiredError, UpstreamError

logger = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
P = ParamSpec("P")


class Started(Protocol[T_co]):
    """What `outcome` reads of a `Future`; covariant, unlike `Future` itself, which keeps mypy
    from widening `T` to `T | None` when the result is unpacked (mypy issue #20219)."""

    def result(self, timeout: float | None = None) -> T_co: ...


class ParallelReads:
    """A pool for one page's reads: `with ParallelReads("snapshot", 8) as reads: reads.start(...)`.

    Leaving the block waits for every call started in it.
    """

    def __init__(self, name: str, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    def __enter__(self) -> ParallelReads:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True)

    def start(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Start `call(*args, **kwargs)` now, in a copy of the caller's context."""
        bound = functools.partial(call, *args, **kwargs)
        return self._pool.submit(contextvars.copy_context().run, bound)


def outcome(future: Started[T]) -> tuple[T | None, UpstreamError | None]:
    """The call's value, or the UpstreamError that stopped it.

    Re-authentication needs propagate: AuthRequiredError here, and the token provider's
    InteractionRequiredError (not an UpstreamError) is never caught at all.
    """
    try:
        return future.result(), None
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        logger.info("%s call failed: %s %s", exc.service, exc.status, exc.code)
        return None, exc
