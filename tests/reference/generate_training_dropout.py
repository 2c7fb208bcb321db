"""Write tests/reference/training_dropout.json: dropout settings the other training fixtures do not cover.

Reuses generate_training.py (decoders) and generate_training_encoders.py (BERT, T5): FakeTensorMode,
two steps, per-phase MemTracker peaks. Cases: GPT-2 with every dropout at 0 (no masks), GPT-2 with its
default dropouts under eager attention (the attention-dropout mask and dropped copy), BERT with its
default attention dropout under eager attention, and T5 with `dropout_rate=0` (SDPA's math kernel
without dropout: CPU SDPA still falls back to it for the position bias that needs a gradient).
CPU dropout keeps masks of the input's dtype (CUDA: bool); tests/test_training_dropout.py adds that.

    python tests/reference/generate_training_dropout.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as harness  # noqa: E402
import generate_training as dec  # noqa: E402
import generate_training_encoders as enc  # noqa: E402

OUT = Path(__file__).with_name("training_dropout.json")
GPT2 = dict(model_type="gpt2", n_embd=512, n_layer=4, n_head=8, vocab_size=50257, n_positions=1024)
CASES = {
    "gpt2-nodrop/mixed-adamw": ("dec", dict(GPT2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0), dict()),
    "gpt2-nodrop/bf16-adamw": ("dec", dict(GPT2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
                               dict(precision="bf16")),
    "gpt2-defaults/mixed-adamw-eager": ("dec", dict(GPT2), dict(attention="eager")),
    "bert-cls-attndrop/mixed-adamw-eager": ("enc", {k: v for k, v in enc.ARCHS["bert-cls"].items()
                                                    if k != "attention_probs_dropout_prob"}, dict(attention="eager")),
    "bert-cls-attndrop/mixed-adamw-eager-s512-b16": ("enc", {k: v for k, v in enc.ARCHS["bert-cls"].items()
                                                             if k != "attention_probs_dropout_prob"},
                                                     dict(attention="eager", seq=512, batch=16)),
    "t5-nodrop/mixed-adamw": ("enc", dict(enc.ARCHS["t5"], dropout_rate=0.0), dict()),
}


def run(cid: str, kind: str, cfg: dict, st: dict) -> dict:
    """The case with `cfg` under its id's architecture name, by the decoder or encoder machinery."""
    arch = cid.split("/")[0]
    if kind == "dec":  # run_case reads ARCHS_ALL (ARCHS with the hybrid families)
        dec.ARCHS[arch] = dec.ARCHS_ALL[arch] = cfg
        rec = dec.run_case(arch, st)
    else:
        enc.ARCHS[arch] = cfg
        rec = enc.run_case(arch, st)
    return {**rec, "config": cfg}


def main() -> int:
    only = sys.argv[1:]
    out = harness.cases_of(OUT) if only else {}
    failures = harness.measure(
        [(cid, cid, *case) for cid, case in CASES.items() if harness.wanted(cid, only)], run, out,
        lambda rec: f"peak {rec['peak_bytes'] / 2**20:9.1f} MiB {rec['peak_phase']}")
    meta = dict(harness.header(__file__),
                tracker="torch.distributed._tools.mem_tracker.MemTracker under FakeTensorMode (fake CPU device)",
                steps=2)
    return harness.finish(OUT, meta, out, failures)


if __name__ == "__main__":
    raise SystemExit(main())
