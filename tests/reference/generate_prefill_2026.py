"""Write tests/reference/prefill_2026.json: the prefill peak of the 2026 families, measured by MemTracker.

Same method and schema as generate_prefill.py (whose tracker helpers it imports): a small model of
each family built inside `FakeTensorMode` in bf16, one `model(input_ids, use_cache=True,
logits_to_keep=1)` under `torch.no_grad()` and MemTracker. The configs are the odd-shaped small
ones of generate_hybrid.py (Gated DeltaNet, Mamba / Mamba-2 and short-convolution hybrids) and
generate_static_attn.py (llama4_text, gemma3n_text, deepseek_v32, glm4_moe, minimax_m2, olmo3,
smollm3). The kernels of flash-linear-attention, causal-conv1d and mamba-ssm are not installed,
so transformers runs its torch paths (`torch_chunk_gated_delta_rule`, Mamba-2's `torch_forward`,
Mamba's `slow_forward`, LFM2's `slow_forward`).

`kv_bytes` here is every tensor the cache holds at the end (K, V, conv and recurrent states, DSA
indexer keys: what vramkit's `kv_cache_bytes` means), so `activation_bytes` = peak - parameters -
buffers - kv_bytes, as in prefill.json.

    python tests/reference/generate_prefill_2026.py              # all cases, rewrites prefill_2026.json
    python tests/reference/generate_prefill_2026.py --only lfm2  # print cases whose name contains 'lfm2'
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
import transformers  # noqa: E402
from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: E402
from torch.distributed._tools.mem_tracker import MemTracker  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

import cuda_sdpa  # noqa: E402 (SDPA as CUDA dispatches it, for the families it routes)
import _harness as harness  # noqa: E402
import generate_hybrid  # noqa: E402
import generate_static_attn  # noqa: E402
from generate_prefill import DTYPE, _snapshot, _storages_bytes  # noqa: E402

OUT = Path(__file__).with_name("prefill_2026.json")

_HYBRID = ("qwen3_next_sparse_moe", "qwen3_5_text_dense", "qwen3_5_moe_text_tied", "nemotron_h_pattern_moe",
           "granitemoehybrid_moe", "granitemoehybrid_dense_bias", "falcon_h1_d_ssm", "jamba_moe_odd",
           "bamba_attn_1", "lfm2_full_attn_idxs")
_ATTN = ("llama4_text_chunk8_interleave2", "gemma3n_text_shared2_widths", "gemma3n_text_layer_types_shared3_bias",
         "deepseek_v32_dsa", "glm4_moe_bias_qknorm_headdim", "glm4_moe_alias_no_headdim_tied",
         "minimax_m2_rotary_dim", "olmo3_window8_gqa", "smollm3_nope_sliding")
ARCHS: dict[str, dict] = {**{n: generate_hybrid.SMALL[n] for n in _HYBRID},
                          **{n: generate_static_attn.SMALL[n] for n in _ATTN}}
# DeepSeek-V3.2 with head dims that are multiples of 8 (as the real model's 192 and 128): CUDA runs its
# DSA-masked SDPA in a fused kernel (cuDNN on sm90). deepseek_v32_dsa's 20 and 10 leave CUDA, like the
# CPU, the math kernel (tests/reference/cuda_sdpa.py), so the two measure both paths.
ARCHS["deepseek_v32_dsa_aligned"] = dict(ARCHS["deepseek_v32_dsa"], qk_nope_head_dim=16, qk_rope_head_dim=8,
                                         v_head_dim=16)
CONTEXTS = (64, 512)
BATCHES = (1, 2)
ATTENTIONS = ("sdpa", "eager")


build_config = harness.build_config  # re-exported: sibling generators import it from here


def cache_tensors(cache) -> list:
    """Every tensor the cache holds: K, V, conv and recurrent states, DSA indexer keys."""
    out = []
    for layer in cache.layers:
        for name in ("keys", "values", "indexer_keys"):
            x = getattr(layer, name, None)
            if isinstance(x, torch.Tensor) and x.numel():
                out.append(x)
        for name in ("conv_states", "recurrent_states"):
            states = getattr(layer, name, None)
            if isinstance(states, dict):
                out += [x for x in states.values() if isinstance(x, torch.Tensor)]
            elif isinstance(states, torch.Tensor):
                out.append(states)
    return out


def run_arch(name: str, attention: str) -> list[dict]:
    arch = ARCHS[name]
    records = []
    with FakeTensorMode(), cuda_sdpa.routed(arch["model_type"]) as kernels:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(build_config(arch, attention), dtype=torch.bfloat16).eval()
        param_bytes = _storages_bytes(list(model.parameters()))
        buffer_bytes = _storages_bytes(list(model.buffers()))
        for tokens in CONTEXTS:
            for batch in BATCHES:
                ids = torch.randint(0, 300, (batch, tokens))
                kernels.clear()
                mt = MemTracker()
                mt.track_external(model, ids)
                with mt, torch.no_grad():
                    out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
                    peak = _snapshot(mt, "peak")
                    end = _snapshot(mt, "current")
                cache = out.past_key_values
                ts = cache_tensors(cache)
                kv_bytes = sum(t.numel() * t.element_size() for t in ts)
                rec = dict(
                    arch=name, attention=attention, dtype=DTYPE, tokens=tokens, batch=batch,
                    peak_bytes=peak["Total"], peak_snapshot=peak, end_snapshot=end,
                    param_bytes=param_bytes, buffer_bytes=buffer_bytes, kv_bytes=kv_bytes,
                    kv_storage_bytes=_storages_bytes(ts), cache_class=type(cache).__name__,
                    input_bytes=ids.numel() * ids.element_size(),
                    logits_shape=list(out.logits.shape), logits_dtype=str(out.logits.dtype).replace("torch.", ""),
                    logits_bytes=out.logits.numel() * out.logits.element_size(),
                )
                rec["activation_bytes"] = rec["peak_bytes"] - param_bytes - buffer_bytes - kv_bytes
                if kernels:  # a routed family: the SDPA kernels CUDA would run, with their call counts
                    rec["sdpa_kernels"] = dict(sorted(kernels.items()))
                records.append(rec)
                del out, cache, ts
    return records


def side_by_side(rec: dict) -> str:
    """vramkit's number, only to print beside the measurement (never written to the fixture)."""
    try:
        from vramkit.inference import kv_cache_bytes, prefill_activation_bytes
        from vramkit.model import ModelSpec
        spec = ModelSpec.from_config(ARCHS[rec["arch"]])
        est = prefill_activation_bytes(spec, rec["tokens"], rec["batch"], rec["dtype"], rec["attention"])
        kv = kv_cache_bytes(spec, rec["tokens"], rec["batch"], rec["dtype"])
        kv_note = "" if kv == rec["kv_bytes"] else f"  KV {kv} != {rec['kv_bytes']}"
        return f"vramkit {est / 2**20:8.3f} MiB ({est / rec['activation_bytes'] - 1:+.1%}){kv_note}"
    except Exception as e:  # noqa: BLE001 - printing only
        return f"vramkit error: {e}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="run (and print, not write) only architectures whose name contains this")
    ap.add_argument("--add", help="run only this architecture and append its cases to the existing fixture")
    args = ap.parse_args(argv)
    if args.add:
        data = json.loads(OUT.read_text(encoding="utf-8"))
        assert data["torch"] == torch.__version__ and data["transformers"] == transformers.__version__
        new = [rec for attention in ATTENTIONS for rec in run_arch(args.add, attention)]
        at = next((i for i, c in enumerate(data["cases"]) if c["arch"] == args.add), len(data["cases"]))
        # the arch's cases replaced where they stood (the others untouched), or appended
        data["cases"] = [c for c in data["cases"][:at] if c["arch"] != args.add] + new + \
            [c for c in data["cases"][at:] if c["arch"] != args.add]
        data["archs"][args.add] = ARCHS[args.add]
        if any("sdpa_kernels" in c for c in data["cases"]):
            data["sdpa"] = cuda_sdpa.META
        harness.write_json(OUT, data)
        print(f"appended {args.add}: {len(data['cases'])} cases", file=sys.stderr)
        return 0
    harness.quiet()
    t0 = time.time()
    refused = {}
    pairs = [(name, attention) for name in ARCHS if not args.only or args.only in name for attention in ATTENTIONS]
    cases = harness.run_archs(pairs, run_arch, side_by_side, refused=refused)
    if args.only:
        return 0
    harness.write_json(OUT, dict(
        harness.header(__file__),
        tracker="torch.distributed._tools.mem_tracker.MemTracker under FakeTensorMode (fake CPU device)",
        call="model(input_ids=ids, use_cache=True, logits_to_keep=1) under torch.no_grad(), model.eval()",
        dtype=DTYPE,
        cache="the cache created by the model's forward; kv_bytes: every tensor it holds (K, V, conv and "
              "recurrent states, indexer keys)",
        kernels="flash-linear-attention, causal-conv1d, mamba-ssm not installed: transformers' torch paths",
        activation_bytes="peak_bytes - param_bytes - buffer_bytes - kv_bytes",
        sdpa=cuda_sdpa.META,
        archs=ARCHS,
        refused=refused,
        cases=cases,
    ))
    print(f"wrote {OUT.name}: {len(cases)} cases in {time.time() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
