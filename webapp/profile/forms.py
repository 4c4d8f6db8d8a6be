"""Flask-WTF forms of the profile page; each carries a CSRF token (security.md A10).

The forms only carry what was typed and the per-field tokens of the values as loaded;
`editing.py` validates (one set of rules, also for the conflict step).
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField, TextAreaField

from webapp.profile.editing import EDITABLE, RawValue, Submission

# Choices in the conflict step.
KEEP_MINE = "mine"
KEEP_THEIRS = "theirs"


class ProfileForm(FlaskForm):
    """Every field you own; a field counts as sent only when its `token_*` came with it
    (read-only fields are rendered without one)."""

    about_me = TextAreaField()
    skills = TextAreaField()
    interests = TextAreaField()
    past_projects = TextAreaField()
    responsibilities = TextAreaField()
    schools = TextAreaField()
    birthday_day = StringField()
    birthday_month = StringField()
    mobile_phone = StringField()
    token_about_me = HiddenField()
    token_skills = HiddenField()
    token_interests = HiddenField()
    token_past_projects = HiddenField()
    token_responsibilities = HiddenField()
    token_schools = HiddenField()
    token_birthday = HiddenField()
    token_mobile_phone = HiddenField()

    def _text(self, name: str) -> str:
        item: Field = self[name]
        return item.data or ""

    def raw(self, name: str) -> RawValue:
        """What was typed for one field (the birthday as day and month)."""
        if name == "birthday":
            return (self._text("birthday_day"), self._text("birthday_month"))
        return self._text(name)

    def tokens(self) -> dict[str, str]:
        return {
            spec.name: self[f"token_{spec.name}"].data
            for spec in EDITABLE
            if self[f"token_{spec.name}"].data
        }

    def submission(self) -> Submission:
        tokens = self.tokens()
        return Submission(values={n: self.raw(n) for n in tokens}, tokens=tokens)


class ResolveForm(ProfileForm):
    """The conflict step: for each field in conflict, the typed value, the token of what is
    stored now, and the user's choice (`choice_*`: mine or theirs)."""

    choice_about_me = StringField()
    choice_skills = StringField()
    choice_interests = StringField()
    choice_past_projects = StringField()
    choice_responsibilities = StringField()
    choice_schools = StringField()
    choice_birthday = StringField()
    choice_mobile_phone = StringField()

    def submission(self) -> Submission:
        """Only the fields where the user kept their own version (the others stay as stored)."""
        tokens = {
            name: value
            for name, value in self.tokens().items()
            if self[f"choice_{name}"].data == KEEP_MINE
        }
        return Submission(values={n: self.raw(n) for n in tokens}, tokens=tokens)
