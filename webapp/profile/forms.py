"""Flask-WTF forms of the profile page, generated from the field catalogue (`fields.EDITABLE`),
so a field added there has its controls here too; CSRF per security.md A10.

The forms only carry what was typed and the per-field tokens of the values as loaded;
`validation.py` checks (one set of rules, also for the conflict step).
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField, TextAreaField

from webapp.profile.fields import EDITABLE, EditableField, Kind
from webapp.profile.saving import Submission
from webapp.profile.validation import RawValue
from webapp.profile.values import Birthday, Value

# Choices in the conflict step.
KEEP_MINE = "mine"
KEEP_THEIRS = "theirs"

# Day and month only: SharePoint keeps birthdays without a year (reference §9.3).
BIRTHDAY_PARTS = ("day", "month")


def controls(spec: EditableField) -> tuple[str, ...]:
    """The names of a field's controls: a birthday is typed as day and month."""
    if spec.kind is Kind.BIRTHDAY:
        return tuple(f"{spec.name}_{part}" for part in BIRTHDAY_PARTS)
    return (spec.name,)


def form_text(spec: EditableField, value: Value) -> dict[str, str]:
    """A value as the field's controls hold it (lists one item per line)."""
    if spec.kind is Kind.BIRTHDAY:
        if not isinstance(value, Birthday):
            return dict.fromkeys(controls(spec), "")
        parts = (value.day, value.month)
        return {control: str(part) for control, part in zip(controls(spec), parts, strict=True)}
    if spec.kind is Kind.LIST:
        return {spec.name: "\n".join(value) if isinstance(value, tuple) else ""}
    return {spec.name: value if isinstance(value, str) else ""}


class ProfileFields(FlaskForm):
    """Every field of `catalogue`; a field counts as sent only when its `token_*` came with it
    (read-only fields are rendered without one)."""

    catalogue: ClassVar[tuple[EditableField, ...]] = ()

    def _text(self, name: str) -> str:
        item: Field = self[name]
        return item.data or ""

    def raw(self, spec: EditableField) -> RawValue:
        """What was typed for one field (the birthday as day and month)."""
        typed = tuple(self._text(control) for control in controls(spec))
        if spec.kind is Kind.BIRTHDAY:
            day, month = typed
            return (day, month)
        return typed[0]

    def typed(self, spec: EditableField) -> dict[str, str]:
        """The raw text of each of a field's controls."""
        return {control: self._text(control) for control in controls(spec)}

    def tokens(self) -> dict[str, str]:
        return {
            spec.name: self[f"token_{spec.name}"].data
            for spec in self.catalogue
            if self[f"token_{spec.name}"].data
        }

    def sent(self) -> tuple[EditableField, ...]:
        """The fields the form sent (those with a token)."""
        tokens = self.tokens()
        return tuple(spec for spec in self.catalogue if spec.name in tokens)

    def submission(self) -> Submission:
        tokens = self.tokens()
        return Submission(values={s.name: self.raw(s) for s in self.sent()}, tokens=tokens)


class ResolveFields(ProfileFields):
    """The conflict step: for each field in conflict, the typed value, the token of what is
    stored now, and the user's choice (`choice_*`: mine or theirs)."""

    def submission(self) -> Submission:
        """Only the fields where the user kept their own version (the others stay as stored)."""
        mine = [s for s in self.sent() if self[f"choice_{s.name}"].data == KEEP_MINE]
        tokens = self.tokens()
        return Submission(
            values={s.name: self.raw(s) for s in mine},
            tokens={s.name: tokens[s.name] for s in mine},
        )


F = TypeVar("F", bound=ProfileFields)


def form_for(base: type[F], catalogue: tuple[EditableField, ...]) -> type[F]:
    """`base` with the controls of every field in `catalogue`, its token and, in the conflict
    step, its choice."""
    attrs: dict[str, object] = {"catalogue": catalogue}
    for spec in catalogue:
        for control in controls(spec):
            attrs[control] = (
                TextAreaField() if spec.kind in (Kind.TEXT, Kind.LIST) else StringField()
            )
        attrs[f"token_{spec.name}"] = HiddenField()
        if issubclass(base, ResolveFields):
            attrs[f"choice_{spec.name}"] = StringField()
    return type(base.__name__.replace("Fields", "Form"), (base,), attrs)


ProfileForm = form_for(ProfileFields, EDITABLE)
ResolveForm = form_for(ResolveFields, EDITABLE)
