"""The app and the emulator type-check with mypy ([tool.mypy] in pyproject.toml), and every
`# type: ignore` left in them says why it must stay."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = ("webapp", "m365_emulator")
# `# type: ignore[code]  # reason`: mypy's own error-code check refuses a bare ignore.
IGNORE = re.compile(r"#\s*type:\s*ignore\b(?P<rest>.*)$")
REASONED = re.compile(r"^\[[a-z, -]+\]\s+#\s*\S")


def test_mypy_finds_no_errors() -> None:
    # Incremental: the cache in .mypy_cache makes a run after small changes take seconds.
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_every_type_ignore_carries_its_reason() -> None:
    unexplained = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if (found := IGNORE.search(line)) and not REASONED.match(found["rest"])
    ]
    assert unexplained == []
