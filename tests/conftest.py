"""Test-wide settings.

- No test may reach the network: every test runs with the Hugging Face Hub offline. vramkit fetches
  a Hub id's config.json when it is not cached (vramkit/hub.py); with HF_HUB_OFFLINE it raises its
  one-line error instead. tests/test_hub.py runs the online path in subprocesses pointed at a local
  fake Hub (their environment sets HF_ENDPOINT and drops HF_HUB_OFFLINE).
- Hypothesis profiles: `--hypothesis-profile=loaded` (tools/check_floors.py uses it) turns off the
  per-example deadline of tests that keep hypothesis' default, for runs on a busy machine, where the
  timing of one example says nothing about the code. Tests that set their own deadline keep it.
"""
import sys

import pytest
from hypothesis import settings

settings.register_profile("loaded", deadline=None)


@pytest.fixture(autouse=True)
def _hub_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # for subprocesses and a first import of huggingface_hub
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:  # already imported: its value was read at import time
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
