"""The app's name and version as every page, summary and User-Agent states them."""

from __future__ import annotations

import importlib.metadata

NAME = "ProfileFix"
# The installed package's version (pyproject.toml), so no second copy can drift.
VERSION = importlib.metadata.version("profilefix")
