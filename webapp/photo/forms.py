"""Flask-WTF forms of the photo pages; every one carries a CSRF token (security.md A10, §3.5)."""

from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, IntegerField
from wtforms.validators import NumberRange, Optional, Regexp

# Form tokens and op ids are urlsafe base64 (secrets.token_urlsafe).
_TOKEN = Regexp(r"^[A-Za-z0-9_-]{16,64}$")
# Crop coordinates in upright pixels; the pipeline validates them against the picture
# (security.md B10); here they only have to be sane integers.
_COORD = [Optional(), NumberRange(min=0, max=100_000)]


def new_form_token() -> str:
    """A one-time token per rendered form, so a double submit maps to one operation (E5)."""
    return secrets.token_urlsafe(16)


def validated(field: HiddenField) -> str:
    """The value of a token field on a validated form (its pattern refuses a missing value)."""
    if field.data is None:
        raise ValueError(f"{field.name} has no value: validate the form first")
    return field.data


class PhotoUploadForm(FlaskForm):
    """A photo file and, when JavaScript chose one, the crop square (else a centred square)."""

    # WTForms takes lazy strings for labels and messages (translated when shown); its stubs
    # say str, and str() here would translate once, at import, in no language.
    photo = FileField(
        _l("Photo"),  # type: ignore[arg-type]  # lazy string, see above
        validators=[FileRequired(_l("Please choose a photo."))],  # type: ignore[arg-type]  # lazy
    )
    x = IntegerField(validators=_COORD)
    y = IntegerField(validators=_COORD)
    size = IntegerField(validators=[Optional(), NumberRange(min=1, max=100_000)])
    form_token = HiddenField(validators=[_TOKEN])

    def crop(self) -> tuple[int, int, int] | None:
        """(left, top, side) when all three crop fields came, else None (centred crop)."""
        x, y, size = self.x.data, self.y.data, self.size.data
        if x is None or y is None or size is None:
            return None
        return x, y, size


class ConfirmForm(FlaskForm):
    """A confirmed action on the user's photo (remove, re-sync): only a one-time token."""

    form_token = HiddenField(validators=[_TOKEN])


class OperationForm(FlaskForm):
    """An action on one operation (undo, retry)."""

    op_id = HiddenField(validators=[_TOKEN])
    form_token = HiddenField(validators=[_TOKEN])
