"""Speed bounds: the roofline's ridge point and the decode bound's regimes."""
import pytest

from vramkit import speed
from vramkit.errors import VramkitError
from vramkit.hardware import get_gpu


def test_h100_ridge_point():
    # 989 TFLOP/s dense bf16 / 3.35 TB/s (scaling-book roofline: ~295 FLOPs per byte)
    assert speed.ridge_point("h100-sxm5") == pytest.approx(295.2, abs=0.1)


def test_single_sequence_decode_is_memory_bound_and_reads_all_weights():
    step = speed.decode_step("llama-3.1-8b", "rtx-4090", 1)
    assert step.bound == "memory"
    assert step.memory_seconds == pytest.approx(step.memory_bytes / get_gpu("rtx-4090").bandwidth_bytes_per_s)
    # one token reads ~16 GB of bf16 weights: at ~1 TB/s that is about 60 tokens/s
    assert 50 < step.tokens_per_second < 70


def test_large_batches_become_compute_bound():
    bounds = [speed.decode_step("llama-3.1-8b", "h100-sxm5", 128, b).bound for b in (1, 4096)]
    assert bounds == ["memory", "compute"]


def test_moe_reads_only_active_experts():
    dense_like = speed.active_weight_bytes(speed.load_model("mixtral-8x7b-v0.1"), "bf16")
    assert dense_like < speed.weights_bytes(speed.load_model("mixtral-8x7b-v0.1"), "bf16") / 3


def test_offload_is_slower_than_all_on_gpu():
    all_gpu = speed.offload_decode_step("llama-3-70b", "h100-sxm5", 80, 4096, weights="int4")
    half = speed.offload_decode_step("llama-3-70b", "h100-sxm5", 40, 4096, weights="int4")
    assert half.seconds > 5 * all_gpu.seconds
    with pytest.raises(VramkitError):
        speed.offload_decode_step("llama-3-70b", "h100-sxm5", 81, 4096)


# ---- MoE decode reads the union of the experts a batch touches ------------------------------------

def test_union_of_experts_the_issue_quotes():
    """Qwen3-30B-A3B (128 experts, 8 per token): 82 of 128 at batch 16 under uniform routing."""
    spec = speed.load_model("qwen3-30b-a3b")
    assert round(speed.experts_touched(spec.num_experts, spec.experts_per_token, 16)) == 82
    assert speed.experts_touched(128, 8, 1) == pytest.approx(8)
    assert speed.experts_touched(128, 8, 16, "spread") == 128 and speed.experts_touched(128, 8, 16, "same") == 8


@pytest.mark.parametrize("e,k,b", [(128, 8, 16), (8, 2, 3), (32, 4, 7), (64, 6, 1), (256, 8, 24)])
def test_union_formula_against_a_seeded_simulation_of_uniform_routing(e, k, b):
    """Each token draws k distinct experts uniformly (a random permutation's first k); the mean
    union over 2,000 batches must sit within 4 standard errors of E(1 - (1 - k/E)^B)."""
    import numpy as np

    rng = np.random.default_rng(1234 + e + k + b)
    trials = 2000
    picks = np.argsort(rng.random((trials, b, e)), axis=2)[:, :, :k]   # k distinct experts per token
    hit = np.zeros((trials, e), dtype=bool)
    np.put_along_axis(hit, picks.reshape(trials, b * k), True, axis=1)
    union = hit.sum(axis=1)
    se = union.std(ddof=1) / np.sqrt(trials) + 1e-9
    assert abs(union.mean() - speed.experts_touched(e, k, b)) < 4 * se


def test_unknown_routing_is_one_line():
    with pytest.raises(speed.VramkitError, match="did you mean 'uniform'"):
        speed.experts_touched(128, 8, 4, "unifrom")


def test_moe_decode_bytes_grow_with_the_union():
    spec = speed.load_model("qwen3-30b-a3b")
    p = speed.weight_parts(spec, "bf16")
    one = speed.decode_weight_bytes(spec, "bf16", 1)
    sixteen = speed.decode_weight_bytes(spec, "bf16", 16)
    per_expert_all_layers = p.experts / spec.num_experts
    assert sixteen - one == pytest.approx(per_expert_all_layers * (speed.experts_touched(128, 8, 16) - 8)
                                          + 15 * p.embedding / spec.vocab_size, rel=1e-6)
    # Reading only k experts, as vramkit did, would miss most of it: the union is 10x the k experts.
    assert sixteen > 5 * (one + 15 * p.embedding // spec.vocab_size)


def test_input_embedding_is_one_row_per_token():
    spec = speed.load_model("llama-3.1-8b")  # untied
    row = 2 * spec.hidden_size
    assert speed.decode_weight_bytes(spec, "bf16", 1) == 2 * spec.params() - spec.vocab_size * row + row
    assert speed.decode_weight_bytes(spec, "bf16", 4) == 2 * spec.params() - spec.vocab_size * row + 4 * row
    tied = speed.load_model("qwen3-0.6b")  # the tied table is the head too: read whole
    assert speed.decode_weight_bytes(tied, "bf16", 1) == speed.weights_bytes(tied, "bf16")


def test_mixed_dtype_parts_match_the_quantized_fixture():
    """gpt-oss's MXFP4 experts beside bf16 attention, against the tensors of tests/reference/quantized.json."""
    import json
    from pathlib import Path

    from vramkit.model import ModelSpec

    case = json.loads((Path(__file__).parent / "reference" / "quantized.json").read_text())["cases"]["mxfp4_gpt_oss"]
    spec = ModelSpec.from_config({**case["config"], "quantization_config": case["quantization_config"]})
    t = case["tensors"]
    experts = sum(v[2] for k, v in t.items() if ".experts." in k)
    emb = t["model.embed_tokens.weight"][2]
    p = speed.weight_parts(spec, "checkpoint", engine="vllm")
    assert (p.embedding, p.experts, p.other) == (emb, experts, sum(v[2] for v in t.values()) - emb - experts)
    loaded = sum(v[2] for v in case["loaded_without_kernels"].values())
    assert speed.weight_parts(spec, "checkpoint", engine="transformers").experts == loaded


def test_decode_of_gpt_oss_mxfp4_depends_on_the_engine():
    """The packed experts make vLLM's decode read fewer bytes than transformers' dequantized bf16."""
    import json
    from pathlib import Path

    from vramkit import catalog
    from vramkit.model import ModelSpec

    qc = json.loads((Path(__file__).parent / "reference" / "quantized.json").read_text())["cases"]["mxfp4_gpt_oss"][
        "quantization_config"]
    spec = ModelSpec.from_config({**catalog.model_entry("gpt-oss-20b")["config"], "quantization_config": qc})
    vllm = speed.decode_step(spec, "h100-sxm5", 1024, engine="vllm")
    hf = speed.decode_step(spec, "h100-sxm5", 1024, engine="transformers")
    parts = {e: speed.weight_parts(spec, "checkpoint", e) for e in ("vllm", "transformers")}
    k, e = spec.experts_per_token, spec.num_experts
    assert hf.memory_bytes - vllm.memory_bytes == int(parts["transformers"].experts * k / e) - int(parts["vllm"].experts * k / e)
    assert parts["vllm"].other == parts["transformers"].other and parts["vllm"].experts * 3 < parts["transformers"].experts
