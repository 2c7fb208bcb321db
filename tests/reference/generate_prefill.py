"""Write tests/reference/prefill.json: the memory peak of a prefill, measured by PyTorch's MemTracker.

Needs torch and transformers (NOT the book's environment; use a separate virtualenv, README.md):

    python tests/reference/generate_prefill.py              # all cases, rewrites prefill.json
    python tests/reference/generate_prefill.py --only gpt2   # print cases whose id contains 'gpt2'

Every case builds a small transformers model (a few layers, real widths and vocabularies) *inside*
`FakeTensorMode` (no real memory), in bf16, and runs one prefill the way `generate` does it:
`model(input_ids, use_cache=True, logits_to_keep=1)` under `torch.no_grad()` (transformers 5's
`generate` sets `logits_to_keep=1` for models whose forward takes it, and lets the model create
its own `DynamicCache`), under `torch.distributed._tools.mem_tracker.MemTracker`.

Recorded per case: MemTracker's peak and its breakdown at that moment, the bytes of the parameters
and buffers, the bytes of the K and V tensors the cache holds at the end (`kv_bytes`, numel x
element size, what vramkit's `kv_cache_bytes` means) and the storages behind them
(`kv_storage_bytes`: a sliding layer keeps a slice of the prefill's full K/V, and the slice keeps the
whole storage alive), and the output logits. `activation_bytes` = peak - parameters - buffers -
`kv_bytes`: what vramkit's `prefill_activation_bytes` must add to weights and KV cache so that the
three sum to the peak.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import transformers
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.distributed._tools.mem_tracker import MemTracker
import _harness as harness  # noqa: E402 (sibling modules: the scripts run from this folder)
from archs import shared  # noqa: E402
from transformers import AutoModelForCausalLM

OUT = Path(__file__).with_name("prefill.json")

# Small versions of real architectures: a few layers, real widths and vocabularies, so that the
# MLP width and the vocabulary both matter. Model types as in static.json.
ARCHS: dict[str, dict] = {
    **shared('llama-mha', 'llama-gqa-128k', 'mistral-gqa', 'qwen2-152k'),
    "qwen3-qknorm": dict(model_type="qwen3", hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                         num_attention_heads=8, num_key_value_heads=4, head_dim=128, vocab_size=151936,
                         tie_word_embeddings=True, max_position_embeddings=4096),
    "gemma2-256k": dict(model_type="gemma2", hidden_size=384, intermediate_size=1536, num_hidden_layers=4,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=128, vocab_size=256000,
                        sliding_window=512, max_position_embeddings=4096),
    **shared('gemma3-262k'),
    "gpt2": dict(model_type="gpt2", n_embd=512, n_layer=4, n_head=8, vocab_size=50257, n_positions=1024),
    "phi3-fused": dict(model_type="phi3", hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                       num_attention_heads=8, num_key_value_heads=8, vocab_size=32064,
                       tie_word_embeddings=False, max_position_embeddings=4096, pad_token_id=0),
    **shared('gpt-neox', 'olmo2', 'qwen3-moe', 'mixtral-moe'),
}
CONTEXTS = (64, 256, 1024)
BATCHES = (1, 2)
ATTENTIONS = ("sdpa", "eager")
DTYPE = "bf16"  # MoE experts (grouped_mm) run only in bf16 on this path; see README.md
# Gemma 2 refuses SDPA in transformers 5 (its attention softcapping needs the eager path).
ONLY_EAGER = {"gemma2-256k"}


build_config = harness.build_config  # re-exported: sibling generators import it from here


def _storages_bytes(tensors) -> int:
    seen, total = set(), 0
    for t in tensors:
        st = t.untyped_storage()
        if id(st) not in seen and st._cdata not in seen:
            seen.add(st._cdata)
            total += st.nbytes()
    return total


def _snapshot(mt: MemTracker, kind: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for dev_snap in mt.get_tracker_snapshot(kind).values():
        for k, v in dev_snap.items():
            key = k.value if hasattr(k, "value") else str(k)
            out[key] = out.get(key, 0) + int(v)
    return out


def run_arch(name: str, attention: str) -> list[dict]:
    """Every (context, batch) of one architecture and attention, each with its own tracker."""
    arch = ARCHS[name]
    records = []
    with FakeTensorMode():
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(build_config(arch, attention), dtype=torch.bfloat16).eval()
        param_bytes = _storages_bytes(list(model.parameters()))
        buffer_bytes = _storages_bytes(list(model.buffers()))
        for tokens in CONTEXTS:
            for batch in BATCHES:
                ids = torch.randint(0, 1000, (batch, tokens))
                mt = MemTracker()
                mt.track_external(model, ids)
                with mt, torch.no_grad():
                    out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
                    peak = _snapshot(mt, "peak")
                    end = _snapshot(mt, "current")
                cache = out.past_key_values
                if type(cache) is not transformers.DynamicCache:
                    raise TypeError(f"expected a DynamicCache, got {type(cache).__name__}")
                ks = [t for layer in cache.layers for t in (layer.keys, layer.values)]
                kv_bytes = sum(t.numel() * t.element_size() for t in ks)
                rec = dict(
                    arch=name, attention=attention, dtype=DTYPE, tokens=tokens, batch=batch,
                    peak_bytes=peak["Total"], peak_snapshot=peak, end_snapshot=end,
                    param_bytes=param_bytes, buffer_bytes=buffer_bytes, kv_bytes=kv_bytes,
                    kv_storage_bytes=_storages_bytes(ks),
                    input_bytes=ids.numel() * ids.element_size(),
                    logits_shape=list(out.logits.shape), logits_dtype=str(out.logits.dtype).replace("torch.", ""),
                    logits_bytes=out.logits.numel() * out.logits.element_size(),
                    kv_tokens_per_layer=[int(layer.keys.shape[-2]) for layer in cache.layers],
                )
                rec["activation_bytes"] = rec["peak_bytes"] - param_bytes - buffer_bytes - kv_bytes
                records.append(rec)
                del out, cache, ks
    return records


def side_by_side(rec: dict) -> str:
    """vramkit's estimate, only to print beside the measurement (never written to the fixture)."""
    try:
        from vramkit.inference import prefill_activation_bytes
        from vramkit.model import ModelSpec
        est = prefill_activation_bytes(ModelSpec.from_config(ARCHS[rec["arch"]]), rec["tokens"], rec["batch"],
                                       rec["dtype"], rec["attention"])
        return f"vramkit {est / 2**20:9.2f} MiB ({est / rec['activation_bytes'] - 1:+.1%})"
    except Exception as e:  # noqa: BLE001 - printing only
        return f"vramkit error: {e}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="run (and print, not write) only architectures whose name contains this")
    args = ap.parse_args(argv)
    harness.quiet()
    t0 = time.time()
    pairs = [(name, attention) for name in ARCHS if not args.only or args.only in name
             for attention in ATTENTIONS if attention == "eager" or name not in ONLY_EAGER]
    cases = harness.run_archs(pairs, run_arch, side_by_side)
    if args.only:
        return 0
    harness.write_json(OUT, dict(
        harness.header(__file__),
        tracker="torch.distributed._tools.mem_tracker.MemTracker under FakeTensorMode (fake CPU device)",
        call="model(input_ids=ids, use_cache=True, logits_to_keep=1) under torch.no_grad(), model.eval()",
        dtype=DTYPE,
        cache="DynamicCache created by the model's forward",
        activation_bytes="peak_bytes - param_bytes - buffer_bytes - kv_bytes",
        archs=ARCHS,
        only_eager=sorted(ONLY_EAGER),
        cases=cases,
    ))
    print(f"wrote {OUT.name}: {len(cases)} cases in {time.time() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
