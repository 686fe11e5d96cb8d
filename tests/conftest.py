"""Fixtures shared by every test; helpers live in tests/helpers/."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest

from actions.backends import Backends
from tests.helpers.backends import make_backends
from tests.helpers.trackers import load_domain


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return load_domain()


@pytest.fixture()
def backends(tmp_path: Path) -> Backends:
    return make_backends(tmp_path / "orders.db")
