"""Saving your profile: write only what you changed, never over a change made elsewhere
meanwhile (that is a `Conflict` you resolve), then read both sides back.

Reference §8.2 (PATCH /me and its own-request rule) and §8.7 (one field per request on a 400).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field

from webapp.microsoft.errors import AuthRequiredError, BadRequestError, UpstreamError
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.sharepoint import SharePointClient
from webapp.profile.fields import EDITABLE_BY_NAME, Kind
from webapp.profile.reading import ProfileView, read_profile
from webapp.profile.refusals import Refusal, refusal, remember_refusals, remembered_refusals
from webapp.profile.validation import FieldProblem, Problem, RawValue, field_problem, validate
from webapp.profile.values import Value, equivalent, same, token, wire

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    """What the form sent: raw values and, per field, the token of the value it loaded."""

    values: Mapping[str, RawValue]
    tokens: Mapping[str, str]


@dataclass(frozen=True)
class Conflict:
    """A field changed elsewhere since the page was loaded; nothing was written for it."""

    name: str
    mine: Value
    theirs: Value
    token: str


@dataclass(frozen=True)
class SaveResult:
    """What happened to each field; `profile` is what both sides hold afterwards.

    Nothing is written when `problems` is non-empty or Graph could not be read first
    (`read_error`).
    """

    profile: ProfileView
    submitted: Mapping[str, Value] = field(default_factory=dict)
    problems: Mapping[str, tuple[FieldProblem, ...]] = field(default_factory=dict)
    saved: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    refused: Mapping[str, Refusal] = field(default_factory=dict)
    failed: Mapping[str, UpstreamError] = field(default_factory=dict)
    not_confirmed: tuple[str, ...] = ()
    read_error: UpstreamError | None = None
    # What Graph held before, for each field a PATCH was sent for (the person's history).
    before: Mapping[str, Value] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Everything asked for is stored (or nothing needed storing)."""
        return not (
            self.problems
            or self.conflicts
            or self.refused
            or self.failed
            or self.not_confirmed
            or self.read_error
        )

    def next_tokens(self, loaded: Mapping[str, str]) -> dict[str, str]:
        """Tokens for the form shown again: as loaded for fields sent but not stored (so a
        change elsewhere is still noticed), fresh for the rest."""
        tokens = dict(self.profile.tokens)
        for name, loaded_token in loaded.items():
            sent_not_stored = name in EDITABLE_BY_NAME and name not in self.saved
            if sent_not_stored and not self.profile.row(name).read_only:
                tokens[name] = loaded_token
        return tokens


class _Writer:
    """Collects each field's fate while the PATCHes run."""

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph
        self.saved: list[str] = []
        self.refused: dict[str, Refusal] = {}
        self.failed: dict[str, UpstreamError] = {}

    def one(self, name: str, value: object) -> None:
        spec = EDITABLE_BY_NAME[name]
        try:
            self.graph.update_me({spec.graph_property: value})
        except AuthRequiredError:
            raise
        except UpstreamError as exc:
            logger.info("PATCH /me %s refused: %s %s", spec.graph_property, exc.status, exc.code)
            reason = refusal(spec, exc)
            if reason is None:
                self.failed[name] = exc
            else:
                self.refused[name] = reason
        else:
            self.saved.append(name)

    def sharepoint_backed(self, changes: Mapping[str, object]) -> None:
        """One PATCH of their own (§8.2 own-request rule); on 400 one field per request (§8.7)."""
        if len(changes) == 1:
            (name, value), *_ = changes.items()
            self.one(name, value)
            return
        values = {EDITABLE_BY_NAME[n].graph_property: v for n, v in changes.items()}
        try:
            self.graph.update_me(values)
        except AuthRequiredError:
            raise
        except UpstreamError as exc:
            if not isinstance(exc, BadRequestError) and refusal(None, exc) is None:
                logger.info("grouped PATCH /me failed: %s %s", exc.status, exc.code)
                self.failed.update(dict.fromkeys(changes, exc))
                return
            # Grouping several SharePoint-backed fields is UNCONFIRMED (§8.2, [S62]); on a 400
            # send one field per request (§8.7). A refusal may concern one property only (the
            # per-property editability of §8.2/§8.4), so find out which the same way.
            logger.info("grouped PATCH /me refused (%s); one field per request", exc.code)
            for name, value in changes.items():
                self.one(name, value)
        else:
            self.saved.extend(changes)


def plan(
    submitted: Mapping[str, Value], loaded: Mapping[str, str], current: ProfileView
) -> tuple[dict[str, object], list[Conflict]]:
    """Pure: the PATCH values to send (by field name) and the fields changed on both sides.

    A field is written only when the user changed it (its value differs from the one loaded)
    and nobody else did meanwhile (what Graph holds now still matches the loaded token).
    """
    changes: dict[str, object] = {}
    conflicts: list[Conflict] = []
    for name, value in submitted.items():
        loaded_token = loaded.get(name)
        now = current.row(name)
        if loaded_token is None or token(value) == loaded_token or same(value, now.graph_value):
            continue  # unchanged here, or already what the user wants
        if now.token != loaded_token:
            conflicts.append(Conflict(name, value, now.graph_value, now.token or ""))
            continue
        changes[name] = wire(now.field, value)
    return changes, conflicts


def save(
    graph: GraphClient,
    sharepoint: SharePointClient,
    submission: Submission,
    memory: MutableMapping[str, object],
) -> SaveResult:
    """Validate, check for changes made elsewhere, PATCH what changed, read both sides back.

    Only fields whose value differs from the one loaded are written, so a field changed
    elsewhere and not touched here is never overwritten; one changed on both sides becomes a
    `Conflict`. The SharePoint-backed fields go in one PATCH and each directory field
    (`mobilePhone`) in another (reference §8.2, §8.7). Refusals are remembered in `memory`
    and make the field read-only. A field that is read-only or unreadable now (no SharePoint
    licence, a failed read) is reported, not sent; a stored birthday is never removed (Graph's
    birthday is not nullable, reference §9.3).

    :raise AuthRequiredError: a service refused the token even after a refresh.
    """
    remembered = remembered_refusals(memory)
    submitted: dict[str, Value] = {}
    problems: dict[str, tuple[FieldProblem, ...]] = {}
    for name, raw in submission.values.items():
        if name not in EDITABLE_BY_NAME or name in remembered:
            continue
        value, found = validate(name, raw)
        submitted[name] = value
        changed = token(value) != submission.tokens.get(name)
        if value is None and changed and EDITABLE_BY_NAME[name].kind is Kind.BIRTHDAY:
            found = [*found, field_problem(Problem.CANNOT_REMOVE)]
        # Only what the user changed counts; an old value already there is not re-checked.
        if found and changed:
            problems[name] = tuple(found)

    current = read_profile(graph, sharepoint, memory)
    if problems or current.graph_error is not None:
        return SaveResult(
            profile=current,
            submitted=submitted,
            problems=problems,
            read_error=current.graph_error,
        )

    blocked = {n: r for n in submitted if (r := current.row(n).read_only) is not None}
    unread = {
        n: current.backed_error
        for n in submitted
        if not current.row(n).graph_read and current.backed_error is not None
    }
    writable = {n: v for n, v in submitted.items() if n not in blocked and n not in unread}
    changes, conflicts = plan(writable, submission.tokens, current)
    writer = _Writer(graph)
    backed = {n: v for n, v in changes.items() if EDITABLE_BY_NAME[n].stored_in_sharepoint}
    if backed:
        writer.sharepoint_backed(backed)
    for name, wire_value in changes.items():
        if name not in backed:
            # A directory field (mobilePhone) in a request of its own (§8.2 own-request rule).
            writer.one(name, wire_value)
    remember_refusals(memory, writer.refused)

    after = read_profile(graph, sharepoint, memory) if changes else current
    # Read back as stored: SharePoint may keep the value in its own form (§9.3).
    not_confirmed = tuple(
        name
        for name in writer.saved
        if after.row(name).graph_read
        and not equivalent(after.row(name).graph_value, submitted[name])
    )
    return SaveResult(
        profile=after,
        submitted=submitted,
        saved=tuple(n for n in writer.saved if n not in not_confirmed),
        conflicts=tuple(conflicts),
        refused={**blocked, **writer.refused},
        failed={**unread, **writer.failed},
        not_confirmed=not_confirmed,
        before={name: current.row(name).graph_value for name in changes},
    )
