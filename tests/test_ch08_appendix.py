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
    assert [label(v, "ko") for v in audit.VERDICTS] == ["맞음", "근사", "아슬아슬", "틀림"]
    assert [label(v, "en") for v in audit.VERDICTS] == ["right", "approximate", "marginal", "wrong"]


# ---- issue 16: English renderings, margins, one optimizer-precision assumption, the seed's code ----


def test_every_claim_has_an_english_rendering():
    for c in CLAIMS:
        assert c.get("quote_en", "").strip(), c["id"]
        assert not any("\uac00" <= ch <= "\ud7a3" for ch in c["quote_en"]), c["id"]  # no Hangul left


def test_fits_claims_name_the_device_and_the_margin(verdicts):
    fits = [v for v in verdicts.values() if v.unit == "bool"]
    assert len(fits) > 30
    for v in fits:
        assert v.device and v.need_bytes > 0 and v.usable_bytes > 0, v.id
        # the yes/no verdict follows the margin: marginal within MARGINAL of 1, else right iff the side agrees
        if abs(v.margin - 1) <= audit.MARGINAL:
            assert v.verdict == "marginal", v.id
        else:
            assert v.verdict == ("right" if v.claimed == (v.need_bytes <= v.usable_bytes) else "wrong"), v.id
    assert {"marginal", "right", "wrong"} <= {v.verdict for v in fits}


@pytest.mark.parametrize("claimed,margin,verdict", [
    (True, 1.03, "marginal"), (False, 0.97, "marginal"), (True, 1.43, "wrong"), (False, 1.43, "right"),
    (True, 0.5, "right"),
])
def test_margin_decides_marginal(claimed, margin, verdict):
    assert audit.judge(claimed, margin <= 1, "bool", margin=margin)[1] == verdict


def test_every_mixed_precision_training_claim_has_its_16bit_reading(verdicts):
    for c in CLAIMS:
        r, v = c["recompute"], verdicts[c["id"]]
        if r["call"] in audit.TRAINING_CALLS and r.get("precision") == "mixed":
            assert v.reading_16bit is not None and v.verdict_16bit in audit.VERDICTS, c["id"]
        else:
            assert v.reading_16bit is None, c["id"]
    # seed 001's "14 + 14 + 28 = 56GB" is wrong with fp32 states and right with 16-bit ones
    assert verdicts["001-train-states"].verdict == "wrong" and verdicts["001-train-states"].verdict_16bit == "right"


def test_the_seeds_calculator_is_run_as_printed(verdicts):
    # the seed's inference_memory(7, 2, 4096): 7 x 2 GB of weights, K and V of 4096 x 32 x 4096 x 2 tokens
    # at 2 bytes counted in GiB, and 20% of the weights + 1 GB of overhead
    by_hand = 7 * 2 + 2 * 4096 * 4096 * 32 * 2 * 2 / 1024**3 + 7 * 2 * 0.2 + 1
    assert verdicts["001-code-infer"].claimed == pytest.approx(by_hand)
    with pytest.raises(VramkitError):
        audit.check_claim({**CLAIMS[0], "claimed": {"code": "inference_memroy"}})


def test_zero2_on_one_gpu_shards_nothing():
    # seed 001's A100 40GB example halves the gradients with ZeRO-2 on its one GPU
    from vramkit import load_model
    from vramkit.training import train_memory

    spec = load_model("llama-2-7b")
    kw = dict(seq=2048, batch=1, precision="mixed", optimizer="sgd", gradient_checkpointing=True, gpus=1)
    one, two = train_memory(spec, zero=2, **kw), train_memory(spec, zero=1, **kw)
    assert one.maxima["gradients"] == two.maxima["gradients"] and one.peak_bytes == two.peak_bytes


def test_quality_loss_is_read_from_the_published_perplexities(verdicts):
    from vramkit import catalog

    board = catalog.published("lcpp-perplexity-llama3-8b")["rows"]
    assert verdicts["001-quality-int8"].computed == pytest.approx(100 * (board["q8_0"]["ppl"] / board["f16"]["ppl"] - 1))
    assert verdicts["001-quality-int8"].verdict == verdicts["001-quality-int4"].verdict == "wrong"


def test_left_out_claims_are_listed_with_reasons():
    left = audit.claims_data()["meta"]["left_out"]
    assert len(left) >= 10 and all(x["ko"].strip() and x["en"].strip() for x in left)


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
