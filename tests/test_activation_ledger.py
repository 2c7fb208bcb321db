"""The activation ledger itemizes what layer_terms sums (and train_memory uses): rows add up exactly."""
import pytest

import vramkit
from vramkit import activations as act
from vramkit.activation_ledger import korthikanti_bytes, korthikanti_terms, layer_ledger, ledger_total
from vramkit.attention_impl import attention_table
from vramkit.errors import VramkitError
from vramkit.training import _linear_params, train_memory

MODELS = ["llama-3.1-8b", "qwen3-8b", "qwen2.5-7b", "mistral-7b-v0.1", "llama-3.2-1b", "smollm3-3b"]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("precision", ["mixed", "bf16", "fp16", "fp32"])
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_rows_add_up_to_layer_terms(name, precision, attention):
    spec = vramkit.load_model(name)
    seq, batch = 1024, 2
    rows = layer_ledger(spec, seq=seq, batch=batch, precision=precision, attention=attention)
    terms = act.layer_terms(spec, 0, precision, seq=seq, attention=attention)
    casts = act.weight_cast_bytes(_linear_params(spec), precision) // spec.num_layers
    assert ledger_total(rows) == sum(terms.values()) * seq * batch + casts
    for part in ("norms", "attention", "scores", "mlp"):
        assert sum(r.bytes for r in rows if r.part == part) == terms[part] * seq * batch, part
    assert all(isinstance(r.bytes, int) for r in rows)


def test_layers_times_ledger_is_train_memorys_saved_activations():
    """All layers' ledgers plus the head's terms are the activations alive at the end of forward."""
    spec = vramkit.load_model("llama-3.1-8b")
    seq = 2048
    m = train_memory(spec, seq=seq)
    head = sum(act.head_terms(spec, "mixed").values()) * seq
    head_cast = act.weight_cast_bytes(spec.vocab_size * spec.hidden_size, "mixed")
    layers = spec.num_layers * ledger_total(layer_ledger(spec, seq=seq))
    casts = act.weight_cast_bytes(_linear_params(spec), "mixed")
    rounding = casts - spec.num_layers * (casts // spec.num_layers)
    assert m.phase_breakdown["forward_end"]["activations"] == layers + head + head_cast + rounding


def test_korthikanti_terms_add_up_to_the_published_formula():
    k = korthikanti_terms(seq=4096, batch=1, hidden=4096, heads=32)
    assert sum(t["sbh"] for t in k) == 34 and sum(t["as2b"] for t in k) == 5
    assert sum(t["bytes"] for t in k) == korthikanti_bytes(seq=4096, batch=1, hidden=4096, heads=32)
    assert korthikanti_bytes(seq=4096, batch=1, hidden=4096, heads=32) == 4096 * 4096 * (34 + 5 * 32)


def test_uncovered_families_refuse():
    with pytest.raises(VramkitError, match="llama-style"):
        layer_ledger(vramkit.load_model("gpt2"), seq=128)
    with pytest.raises(VramkitError):
        layer_ledger(vramkit.load_model("mixtral-8x7b-v0.1"), seq=128)
    with pytest.raises(VramkitError, match="attention"):
        layer_ledger(vramkit.load_model("llama-3.1-8b"), seq=128, attention="flash3")


def test_attention_table_grows_quadratically_only_for_eager():
    spec = vramkit.load_model("llama-3.1-8b")
    a, b = attention_table(spec, [2048, 4096])
    assert b["score_elements"] == 4 * a["score_elements"]
    assert b["flash_saved_layer"] == 2 * a["flash_saved_layer"]
    # the score part dominates eager's extra: more than 3.5x when the sequence doubles
    assert b["eager_saved_layer"] > 3.5 * a["eager_saved_layer"]
    assert b["prefill_eager"] > b["prefill_sdpa"] and b["train_eager"] > b["train_sdpa"]
    # fp32 softmax + its bf16 cast, per score element, plus K/V repeated to the 32 query heads
    extra = a["eager_saved_layer"] - a["score_elements"] * 6
    assert extra == 2 * 2 * (spec.q_dim - spec.kv_dim) * 2048


def test_paper_keys_name_catalog_terms():
    keys = {t["key"] for t in korthikanti_terms(seq=8, batch=1, hidden=8, heads=1)}
    for attention in ("sdpa", "eager"):
        rows = layer_ledger(vramkit.load_model("qwen3-8b"), seq=64, attention=attention)
        assert {r.paper for r in rows} - {""} <= keys
