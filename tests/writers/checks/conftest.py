"""Each check runs on a fresh copy of the small valid project (tests/helpers/writers_project.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.writers_project import make_project


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "bot")
