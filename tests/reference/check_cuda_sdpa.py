"""Check cuda_sdpa's emulation where the CPU already runs what CUDA runs: route every SDPA call of
cases whose fixtures were measured with the CPU's own kernel (flash for CPU: no mask, equal head
dims) and print the peak beside the fixture's. Needs torch and transformers (as the generators).

    python tests/reference/check_cuda_sdpa.py llama-mha/mixed-adamw qwen3-152k/mixed-adamw

Measured with torch 2.14.1, transformers 5.24 (cuDNN routed on sm90 rules): llama-mha/mixed-adamw
+0 bytes, qwen3-152k/mixed-adamw +64, llama-mha/bf16-lora +64, qwen3-152k/mixed-adamw-gc +0 (the
+64: two int64 RNG scalars per layer that cuDNN's op returns and autograd saves).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cuda_sdpa
import generate_training as g

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    fixtures = {}
    for name in ("training.json", "training_loops.json", "training_hybrids.json"):
        fixtures.update(json.loads((HERE / name).read_text())["cases"])
    for cid in argv:
        old = fixtures[cid]
        with cuda_sdpa.routed("", force=True) as kernels:
            rec = g.run_case(old["arch"], dict(old["settings"]))
        print(f"{cid:36s} routed {rec['peak_bytes']:>11d}  fixture {old['peak_bytes']:>11d}  "
              f"diff {rec['peak_bytes'] - old['peak_bytes']:+d}  {dict(kernels)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
