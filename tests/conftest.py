"""Hypothesis profiles. `--hypothesis-profile=loaded` (tools/check_floors.py uses it) turns off the
per-example deadline of tests that keep hypothesis' default, for runs on a busy machine, where the
timing of one example says nothing about the code. Tests that set their own deadline keep it."""
from hypothesis import settings

settings.register_profile("loaded", deadline=None)
