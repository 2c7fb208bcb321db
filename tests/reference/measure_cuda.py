"""Measure the training cases of generate_training.py on a real CUDA GPU.

    python tests/reference/measure_cuda.py [--only TEXT]   -> tests/reference/training_cuda.json

Same architectures and settings as the MemTracker fixture (imported from generate_training.py),
but with real tensors on `cuda:0`: for each case, two training steps, and per step
`torch.cuda.max_memory_allocated()` after `torch.cuda.reset_peak_memory_stats()` (so the second
step's figure is the steady state, optimizer states included), plus the memory allocated before
the step. Mixed precision uses `torch.autocast("cuda", dtype=torch.bfloat16)`.

Not run in the session that wrote it (no GPU there); tests/test_training.py compares vramkit with
this file when it exists.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import generate_training as g  # noqa: E402

OUT = Path(__file__).with_name("training_cuda.json")


def run_case(arch: str, settings: dict) -> dict:
    s = {**g.BASE, **settings}
    config = g.build_config(g.ARCHS[arch], s["attention"])
    dev = torch.device("cuda:0")
    torch.manual_seed(0)
    model = g.AutoModelForCausalLM.from_config(config, dtype=g.DTYPES[s["precision"]]).to(dev)
    model.train()
    if s["gradient_checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if s["lora_rank"]:
        lcfg = g.peft.LoraConfig(r=s["lora_rank"], lora_alpha=2 * s["lora_rank"], lora_dropout=0.0,
                                 target_modules="all-linear", task_type="CAUSAL_LM")
        model = g.peft.get_peft_model(model, lcfg)
        if s["gradient_checkpointing"]:
            model.enable_input_require_grads()
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = g._make_optimizer(s["optimizer"], trainable, s["foreach"])
    ids = torch.randint(0, g.ARCHS[arch]["vocab_size"], (s["batch"], s["seq"]), device=dev)
    steps = []
    for _ in range(2):
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        if s["precision"] == "mixed":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model(input_ids=ids, labels=ids).loss
        else:
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        del loss
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        steps.append(dict(allocated_before=before, max_memory_allocated=torch.cuda.max_memory_allocated(),
                          max_memory_reserved=torch.cuda.max_memory_reserved()))
    out = dict(arch=arch, settings=s, config=g.ARCHS[arch], steps=steps,
               peak_bytes=max(st["max_memory_allocated"] for st in steps))
    del model, opt, ids
    gc.collect()
    torch.cuda.empty_cache()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device: nothing measured", file=sys.stderr)
        return 1
    cases, failures = {}, []
    for cid, arch, st in g.cases():
        if args.only not in cid:
            continue
        try:
            cases[cid] = run_case(arch, st)
            print(f"{cid:<40} {cases[cid]['peak_bytes'] / 2**20:9.1f} MiB", file=sys.stderr)
        except Exception as e:  # keep going
            failures.append(f"{cid}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            print("FAILED", failures[-1], file=sys.stderr)
    meta = dict(generator="tests/reference/measure_cuda.py", torch=torch.__version__,
                transformers=g.transformers.__version__, peft=getattr(g.peft, "__version__", None),
                device=torch.cuda.get_device_name(0), measure="torch.cuda.max_memory_allocated per step",
                failures=failures)
    OUT.write_text(json.dumps(dict(meta=meta, cases=cases), indent=1) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
