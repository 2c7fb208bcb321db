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

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import transformers  # noqa: E402

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


def main() -> int:
    only = sys.argv[1:]
    out = json.loads(OUT.read_text())["cases"] if only and OUT.exists() else {}
    failures = []
    for cid, (kind, cfg, st) in CASES.items():
        if only and not any(a in cid for a in only):
            continue
        arch = cid.split("/")[0]
        t0 = time.time()
        try:
            if kind == "dec":
                dec.ARCHS[arch] = cfg
                rec = dec.run_case(arch, st)
            else:
                enc.ARCHS[arch] = cfg
                rec = enc.run_case(arch, st)
        except Exception as e:  # keep going; report which cases failed
            failures.append(f"{cid}: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
            print("FAILED", failures[-1], file=sys.stderr)
            continue
        rec["config"] = cfg
        out[cid] = rec
        print(f"{cid:<40} peak {rec['peak_bytes'] / 2**20:9.1f} MiB {rec['peak_phase']} ({time.time() - t0:.1f} s)",
              file=sys.stderr)
    doc = dict(meta=dict(generator="tests/reference/generate_training_dropout.py", torch=torch.__version__,
                         transformers=transformers.__version__,
                         tracker="torch.distributed._tools.mem_tracker.MemTracker under FakeTensorMode (fake CPU device)",
                         steps=2, failures=failures), cases=dict(sorted(out.items())))
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(out)} cases to {OUT.name}; {len(failures)} failed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
