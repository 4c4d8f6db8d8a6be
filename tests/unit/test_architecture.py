"""The layering promises of STYLE §3.2 hold: checked by import-linter's contracts."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "BROKEN" not in result.stdout


# Feature packages, and shared packages built the same way (views/wording may know Flask).
FEATURES = ("overview", "photo", "profile", "helpdesk", "history", "changes")
FLASK_ALLOWED = {"__init__", "views", "forms", "wording"}


def test_every_feature_module_outside_views_forms_wording_is_kept_free_of_flask() -> None:
    """A new use-case module cannot slip past the no-Flask contract by not being listed."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        contracts = tomllib.load(f)["tool"]["importlinter"]["contracts"]
    no_flask = next(c for c in contracts if "flask" in c.get("forbidden_modules", []))
    listed = set(no_flask["source_modules"])
    modules = {
        f"webapp.{feature}.{path.stem}"
        for feature in FEATURES
        for path in (ROOT / "webapp" / feature).glob("*.py")
        if path.stem not in FLASK_ALLOWED
    }
    assert modules - listed == set()


# `current_app.extensions[...]`, `app.extensions.get(...)`, not the module `webapp.extensions`.
APP_EXTENSIONS = re.compile(r"(?<!\w)(current_)?app\.extensions\b")


def test_features_reach_settings_store_and_clients_only_through_the_request_context() -> None:
    """`web/context.py` is the one place that knows how the app keeps them (STYLE §3.1)."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for feature in FEATURES
        for path in sorted((ROOT / "webapp" / feature).glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if APP_EXTENSIONS.search(line) or ".oid}" in line
    ]
    assert offenders == []
