"""Settings: every MLCOST_* variable the code reads is documented in the README, and values are validated."""

from __future__ import annotations

import re

import pytest

from pipelines.config import Settings
from pipelines.errors import InputError
from tests.conftest import REPO


def test_every_environment_variable_is_documented():
    code = "\n".join(p.read_text() for p in (REPO / "pipelines").rglob("*.py"))
    used = set(re.findall(r"\"(MLCOST_[A-Z_]+)\"", code))
    readme = (REPO / "README.md").read_text()
    assert used, "no MLCOST_* variable found: the pattern is wrong"
    assert sorted(v for v in used if v not in readme) == []


def test_batching_is_parsed_and_bad_values_are_refused(tmp_path):
    settings = Settings(home=tmp_path, predictions_per_invocation="fraud=4, chat = 2.5")
    assert settings.batching() == {"fraud": 4.0, "chat": 2.5}
    for bad in ("fraud", "fraud=x", "fraud=0", "=3"):
        with pytest.raises(InputError, match="MLCOST_PREDICTIONS_PER_INVOCATION"):
            Settings(home=tmp_path, predictions_per_invocation=bad).batching()
