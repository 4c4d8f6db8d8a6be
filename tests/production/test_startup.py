"""Start-up with wrong settings: one line naming the setting, no traceback, no demo, and
gunicorn stops instead of restarting workers for ever (issue 16 item 8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.gunicorn import GUNICORN, REPO
from tests.support.ports import free_port


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME")}
    env.update(PROFILEFIX_ENV_FILE=str(tmp_path / "none.env"), **settings)
    return env


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"CLIENT_ID": "8f2b1c3d-0000-4000-8000-000000000001"}, "TENANT_ID"),
        (
            {
                "CLIENT_ID": "8f2b1c3d-0000-4000-8000-000000000001",
                "TENANT_ID": "contoso",
                "ORGANISATION_NAME": "Contoso",
            },
            "CLIENT_SECRET",
        ),
    ],
)
def test_a_half_configured_tenant_never_starts_the_demo(
    tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from webapp import create_app; create_app()"],
        cwd=REPO,
        env=_env(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ProfileFix cannot start: {named} ")


def test_gunicorn_stops_with_the_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            GUNICORN,
            "-c",
            str(REPO / "config" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{free_port()}",
            "webapp:create_app()",
        ],
        cwd=REPO,
        env=_env(tmp_path, CLIENT_ID="8f2b1c3d-0000-4000-8000-000000000001"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ProfileFix cannot start: TENANT_ID is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Booting worker" not in result.stderr
