"""The profile forms are generated from the field catalogue: every field has its controls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from webapp.profile.fields import EDITABLE, EditableField, Kind, Place
from webapp.profile.forms import (
    KEEP_MINE,
    KEEP_THEIRS,
    ProfileFields,
    ProfileForm,
    ResolveFields,
    ResolveForm,
    form_for,
)


@pytest.fixture(autouse=True)
def request_context() -> Iterator[None]:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    with app.test_request_context():
        yield


def control_names(form: ProfileFields) -> set[str]:
    return {field.name for field in form}


def test_every_catalogue_field_has_its_controls_and_token_and_nothing_else() -> None:
    expected = {"birthday_day", "birthday_month"}  # no year (reference §9.3)
    for spec in EDITABLE:
        if spec.kind is not Kind.BIRTHDAY:
            expected.add(spec.name)
        expected.add(f"token_{spec.name}")
    assert control_names(ProfileForm(formdata=None)) == expected
    choices = {f"choice_{spec.name}" for spec in EDITABLE}
    assert control_names(ResolveForm(formdata=None)) == expected | choices


def test_a_field_added_to_the_catalogue_is_in_the_forms() -> None:
    nickname = EditableField("nickname", "aboutMe", Kind.TEXT, (Place.PROFILE_CARD,))
    edit = form_for(ProfileFields, (*EDITABLE, nickname))(formdata=None)
    resolve = form_for(ResolveFields, (*EDITABLE, nickname))(formdata=None)
    assert {"nickname", "token_nickname"} <= control_names(edit)
    assert {"nickname", "token_nickname", "choice_nickname"} <= control_names(resolve)


def test_only_fields_sent_with_their_token_count_and_the_birthday_comes_as_day_and_month() -> None:
    form = ProfileForm(
        formdata=MultiDict(
            {
                "skills": "Python\nSQL",
                "token_skills": "t1",
                "birthday_day": "12",
                "birthday_month": "4",
                "token_birthday": "t2",
                "about_me": "typed without a token",
            }
        )
    )
    submission = form.submission()
    assert submission.values == {"skills": "Python\nSQL", "birthday": ("12", "4")}
    assert submission.tokens == {"skills": "t1", "birthday": "t2"}


def test_the_conflict_step_sends_only_the_fields_where_i_kept_mine() -> None:
    form = ResolveForm(
        formdata=MultiDict(
            {
                "skills": "Mine",
                "token_skills": "t1",
                "choice_skills": KEEP_MINE,
                "schools": "Mine too",
                "token_schools": "t2",
                "choice_schools": KEEP_THEIRS,
            }
        )
    )
    submission = form.submission()
    assert (submission.values, submission.tokens) == ({"skills": "Mine"}, {"skills": "t1"})
