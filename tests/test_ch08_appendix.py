"""The appendix: seed audit (vramkit/audit.py over catalog/seed_claims.json) and the glossary.

The claims whose wrongness is known without vramkit's formulas are pinned here: each with the
independent reason it is wrong (the seed's own formula, its own addition, published sizes).
"""
import json
from pathlib import Path

import pytest

from vramkit import audit
from vramkit.errors import VramkitError
from vramkit.units import LABELS, label

CATALOG = Path(audit.__file__).parent / "catalog"
CLAIMS = audit.claims_data()["claims"]


@pytest.fixture(scope="module")
def verdicts():
    return {v.id: v for v in audit.audit()}


def test_every_claim_gets_a_verdict(verdicts):
    assert len(verdicts) == len(CLAIMS) > 50
    assert {v.verdict for v in verdicts.values()} == set(audit.VERDICTS)
    assert all(v.verdict in audit.VERDICTS for v in verdicts.values())


def test_claims_are_well_formed():
    ids = [c["id"] for c in CLAIMS]
    assert len(ids) == len(set(ids))
    seeds = audit.claims_data()["seeds"]
    for c in CLAIMS:
        assert c["seed"] in seeds and c["quote"].strip() and c["unit"] in audit.UNITS, c["id"]
        assert c["note"]["ko"].strip() and c["note"]["en"].strip(), c["id"]
    assert {c["seed"] for c in CLAIMS} == set(seeds), "every seed document is audited"


# Wrong for reasons that need no vramkit formula:
KNOWN_WRONG = {
    # seed 001's KV table is half of its own formula batch x seq x hidden x layers x 2 x 2 bytes
    **{f"001-kv-b{b}-{c}": "half its own formula" for b in (1, 2, 4, 8) for c in ("1K", "4K", "16K", "32K")},
    # 14 + 84 + 14 + 1.4 is 113.4
    "003-total-sum": "addition",
    # LLaMA-65B has 65.2e9 parameters (LLaMA paper, Table 2): even at 4 bits that is over 24 GiB
    "004-pi-65b": "three 8 GB boards",
}


@pytest.mark.parametrize("claim_id", sorted(KNOWN_WRONG))
def test_known_wrong_claims_come_out_wrong(verdicts, claim_id):
    assert verdicts[claim_id].verdict == "wrong"


def test_kv_table_is_exactly_half_the_seed_formula(verdicts):
    # The seed's own checklist: batch x seq x hidden x layers x 2 x precision (Llama-2-7B: 4096, 32, fp16).
    for b in (1, 2, 4, 8):
        for c, n in (("1K", 1024), ("4K", 4096), ("16K", 16384), ("32K", 32768)):
            v = verdicts[f"001-kv-b{b}-{c}"]
            seed_formula_gib = b * n * 4096 * 32 * 2 * 2 / 2**30
            assert v.claimed == seed_formula_gib / 2
            assert v.computed * 10**9 == seed_formula_gib * 2**30


def test_plain_arithmetic_claims_are_right(verdicts):
    for cid in ("000-gpt4-fp32", "000-gpt4-fp16", "000-80b-fp16", "000-gpt4-moe", "002-1b-bytes"):
        assert verdicts[cid].verdict == "right", cid


def test_embedded_llama1_configs_match_the_paper():
    # LLaMA paper (Touvron et al. 2023), Table 2: 32.5B and 65.2B parameters (truncated, not rounded:
    # the 65B checkpoint holds 65,285,660,672).
    from vramkit.sources import load_model

    models = audit.claims_data()["models"]
    assert load_model(models["llama-1-30b"]["config"]).params() // 10**8 == 325
    assert load_model(models["llama-1-65b"]["config"]).params() // 10**8 == 652
    assert load_model(models["gpt2-medium"]["config"]).params() == 354_823_168  # transformers' gpt2-medium


def test_seed_ledgers_below_every_published_ledger_are_wrong(verdicts):
    # Weights + gradients + AdamW states: every published ledger says 16 to 20 bytes per parameter
    # (catalog/published-bytes-per-param.json); seed 001's 56 GB for a 7B is far below any of them.
    from vramkit import catalog, load_model

    low = min(b["total"] for b in catalog.published("bytes-per-param")["ledgers"])
    n = load_model("llama-2-7b").params()
    for cid in ("001-train-states", "001-adamw-total"):
        v = verdicts[cid]
        assert v.claimed * 10**9 / n < low * (1 - audit.APPROXIMATE)
        assert v.verdict == "wrong"
    # seed 003's 84 GB optimizer is EleutherAI's 12-byte optimizer (fp32 copy + m + v): right
    eleuther = next(b for b in catalog.published("bytes-per-param")["ledgers"] if b["name"].startswith("EleutherAI"))
    assert verdicts["003-optimizer"].verdict == "right"
    assert verdicts["003-optimizer"].computed * 10**9 == eleuther["items"]["optimizer (fp32 copy + m + v)"] * n


@pytest.mark.parametrize("claimed,computed,unit,verdict", [
    (105, 100, "GB", "right"), (95, 100, "GB", "right"), (106, 100, "GB", "approximate"),
    (125, 100, "GB", "approximate"), (126, 100, "GB", "wrong"), (50, 100, "GB", "wrong"),
    ((70, 80), 75, "%", "right"), ((70, 80), 84, "%", "right"), ((70, 80), 100, "%", "approximate"),
    (True, True, "bool", "right"), (True, False, "bool", "wrong"),
])
def test_thresholds(claimed, computed, unit, verdict):
    assert audit.judge(claimed, computed, unit)[1] == verdict


def test_arithmetic_has_no_approximate_band():
    assert audit.judge(132.4, 113.4, "GB", arithmetic=True)[1] == "wrong"
    assert audit.judge(132.4, 113.4, "GB")[1] == "approximate"


def test_bad_recipe_is_one_line_error():
    with pytest.raises(VramkitError) as e:
        audit.recompute({"call": "weigths"})
    assert "\n" not in str(e.value) and "weights" in str(e.value)
    with pytest.raises(VramkitError):
        audit.audit(seed="009")


def test_verdict_labels_in_both_languages():
    assert [label(v, "ko") for v in audit.VERDICTS] == ["맞음", "근사", "틀림"]
    assert [label(v, "en") for v in audit.VERDICTS] == ["right", "approximate", "wrong"]


# ---- glossary ------------------------------------------------------------------------------

GLOSSARY = json.loads((CATALOG / "glossary.json").read_text(encoding="utf-8"))["terms"]


def test_glossary_has_no_blank_rows_or_duplicates():
    for t in GLOSSARY:
        assert t["ko"].strip() and t["en"].strip() and t["def"]["ko"].strip() and t["def"]["en"].strip(), t
    assert len({t["en"].lower() for t in GLOSSARY}) == len(GLOSSARY)
    assert len({t["ko"] for t in GLOSSARY}) == len(GLOSSARY)


def _core(term: str) -> str:
    return term.split("(")[0].strip().lower()


@pytest.mark.parametrize("term", [t for t in GLOSSARY if "label" in t], ids=lambda t: t["label"])
def test_glossary_agrees_with_chart_labels(term):
    # The words charts and tables print (units.LABELS) are the glossary's words.
    assert term["label"] in LABELS
    for lang in ("ko", "en"):
        a, b = _core(term[lang]), _core(label(term["label"], lang))
        assert a in b or b in a, (lang, a, b)
