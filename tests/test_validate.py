"""The accuracy tables: vramkit and the rules people use, against the fixtures from the real libraries."""
import pytest

from vramkit import validate


@pytest.fixture(scope="module")
def kv():
    return validate.kv_accuracy()


@pytest.fixture(scope="module")
def training():
    return validate.training_accuracy()


def test_kv_table_covers_every_fixture_prefill(kv):
    fixture = validate.load_fixture("static")
    assert len(kv) == sum(len(r["kv"]) for r in fixture["small"].values()) >= 200


def test_vramkit_kv_is_exact_and_the_rules_are_not(kv):
    s = validate.error_summary(kv, "transformers", validate.KV_ESTIMATORS)
    assert s.loc["vramkit", "worst |error|"] == 0
    # ignoring GQA overstates every GQA/MQA case; ignoring windows overstates long sliding-window cases
    assert s.loc["2·L·hidden (no GQA)", "within 5%"] < 0.5
    assert s.loc["GQA, no sliding window", "worst |error|"] > 1


def test_training_table_is_full_fine_tuning_only(training):
    fixture = validate.load_fixture("training")
    full = [c for c in fixture["cases"].values() if not c["settings"]["lora_rank"]]
    assert len(training) == len(full) >= 40


def test_vramkit_training_beats_every_rule(training):
    s = validate.error_summary(training, "MemTracker", ["vramkit", *validate.TRAINING_RULES])
    assert s.loc["vramkit", "worst |error|"] < 0.10
    for rule in validate.TRAINING_RULES:
        assert s.loc[rule, "median |error|"] > 5 * s.loc["vramkit", "median |error|"]


def test_missing_fixture_gives_none(tmp_path):
    assert validate.load_fixture("static", tmp_path) is None
