"""Every text a user can see has a Danish translation, and the compiled catalogue is current."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "webapp" / "translations" / "da" / "LC_MESSAGES"
# The same keywords as `./dev translations` (pybabel extract -k _l -k lazy_gettext).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}

MessageId = str | tuple[str, ...]


def _extracted() -> dict[MessageId, str]:
    """Every msgid in webapp/ and templates/ per babel.cfg, with where it was found."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[MessageId, str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        assert context is None, f"{filename}:{lineno}: message contexts are not used here"
        found.setdefault(message, f"{filename}:{lineno}")
    return found


def _danish() -> Catalog:
    with open(CATALOGUE / "messages.po", "rb") as po:
        return read_po(po, locale="da")


def _plain(value: object) -> object:
    """Plural ids and strings come back from the .mo as lists: compare them as tuples."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _translated(message: object) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)


def test_extraction_finds_the_templates_and_the_python_wording() -> None:
    found = _extracted()
    places = {where.split(":")[0].split("/")[0] for where in found.values()}
    assert {"templates", "webapp"} <= places
    assert "Sign in" in found  # a template string
    assert "Skip to content" in found


def test_every_user_visible_text_has_a_danish_translation() -> None:
    catalogue = _danish()
    problems = []
    for message_id, where in sorted(_extracted().items(), key=lambda item: item[1]):
        key = message_id[0] if isinstance(message_id, tuple) else message_id
        message = catalogue.get(key)
        if message is None:
            problems.append(f"{where}: not in the catalogue: {key!r}")
        elif message.fuzzy:
            problems.append(f"{where}: fuzzy (check it, then drop the flag): {key!r}")
        elif not _translated(message):
            problems.append(f"{where}: no Danish translation: {key!r}")
    assert not problems, (
        "Run ./dev translations, translate the new entries in "
        "webapp/translations/da/LC_MESSAGES/messages.po, run it again and commit .po and .mo:\n"
        + "\n".join(problems)
    )


def test_translations_keep_every_placeholder() -> None:
    """A Danish text that loses `%(name)s` or `{size}` would break the page that uses it."""
    problems = [
        f"{message.id!r}: {'; '.join(map(str, errors))}" for message, errors in _danish().check()
    ]
    assert not problems, "\n".join(problems)


def test_compiled_catalogue_matches_the_po_file() -> None:
    """The .mo the app loads holds exactly the translated, non-fuzzy .po entries."""
    expected = {
        _plain(message.id): _plain(message.string)
        for message in _danish()
        if message.id and not message.fuzzy and _translated(message)
    }
    with open(CATALOGUE / "messages.mo", "rb") as mo:
        compiled = {
            _plain(message.id): _plain(message.string) for message in read_mo(mo) if message.id
        }
    stale = sorted(
        str(key)
        for key in expected.keys() | compiled.keys()
        if expected.get(key) != compiled.get(key)
    )
    assert not stale, (
        "messages.mo is out of date: run ./dev translations and commit it. " + ", ".join(stale[:10])
    )


@pytest.mark.parametrize("text", ["Sign in", "Sign out", "Your photo", "Change your photo"])
def test_common_words_use_microsofts_danish_terms(text: str) -> None:
    terms = {
        "Sign in": "Log på",
        "Sign out": "Log af",
        "Your photo": "Dit billede",
        "Change your photo": "Skift dit billede",
    }
    assert _danish()[text].string == terms[text]
