"""Write tests/reference/training_fused_loss.json: Liger's fused linear cross-entropy, emulated in torch.

Liger-Kernel needs triton and a GPU. Its memory, though, is the allocations of
`fused_linear_cross_entropy_forward` (liger_kernel/ops/fused_linear_cross_entropy.py, liger-kernel
0.8.5), which are plain torch calls around one Triton kernel that writes the loss and the logits'
gradient *in place* into the logits chunk. `LigerFLCEEmulation` below makes the same calls with the
same shapes and dtypes (chunk size by Liger's formula, one reused logits buffer filled by
`torch.mm(out=)`, `grad_input` and `grad_weight` zero-allocated up front, `torch.mm(out=grad_input[...])`,
`torch.addmm(out=grad_weight)`, both saved for backward) and replaces the kernel by an in-place op that
allocates nothing. Without autocast that is Liger's CUDA path for bf16/fp16/fp32 models. Under autocast
(fp32 weights, "mixed") Liger cannot use `mm(out=)`: each chunk's logits are a new autocast matmul
(the previous chunk still referenced while the next is made), `grad_input[chunk] = grad_logits @ W`
copies a bf16 product into the fp32 buffer, and the fp32 `grad_weight` is accumulated by
`addmm(out_dtype=float32, out=grad_weight)` from a bf16 copy of the input chunk (sm80+, torch >= 2.8):
emulated with the same calls except that in-place accumulation, an in-place op here.
The model's forward is transformers' base model, then the loss on the last hidden state with labels
padded and shifted as `LigerForCausalLMLoss` does (what `Trainer(use_liger_kernel=True)` patches in).
FakeTensorMode, two steps, MemTracker, as generate_training.py.

    python tests/reference/generate_training_fused_loss.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

import _harness as harness  # noqa: E402
import generate_training as g  # noqa: E402

OUT = Path(__file__).with_name("training_fused_loss.json")


def _cdiv(a, b):
    return -(-a // b)


def _next_pow2(n):
    return 1 << max(n - 1, 0).bit_length()


class LigerFLCEEmulation(torch.autograd.Function):
    """The allocations of Liger's fused linear cross-entropy (mean reduction, no bias, no softcap)."""

    @staticmethod
    def forward(ctx, x, weight, target):
        bt, h = x.shape
        v = weight.shape[0]
        inc = _cdiv(v, 1 * h)                                   # chunk_mem_const = 1
        chunk = min(_next_pow2(_cdiv(bt, inc)), bt)
        grad_input = torch.zeros_like(x)
        grad_weight = torch.zeros_like(weight) if weight.requires_grad else None
        loss_1d = torch.zeros(bt, dtype=torch.float32)
        use_mm_out = not torch.is_autocast_enabled("cpu") and x.dtype == weight.dtype
        logits_storage = torch.empty((chunk, v), dtype=x.dtype) if use_mm_out else None
        logits = None
        for start in range(0, bt, chunk):
            end = min(start + chunk, bt)
            x_chunk = x[start:end]
            if use_mm_out:
                logits = logits_storage[: end - start]
                torch.mm(x_chunk, weight.t(), out=logits)
            else:
                logits = x_chunk @ weight.t()       # autocast; the previous chunk is freed only now
            logits.mul_(1.0)     # liger_cross_entropy_kernel: loss into loss_1d, gradient into `logits`
            if use_mm_out:
                torch.mm(logits, weight, out=grad_input[start:end])
            else:
                grad_input[start:end] = logits @ weight
            if grad_weight is not None:
                if use_mm_out:
                    torch.addmm(grad_weight, logits.t(), x_chunk, out=grad_weight)
                else:
                    x_low = x_chunk.to(logits.dtype) if x_chunk.dtype != logits.dtype else x_chunk
                    grad_weight.mul_(1.0)   # addmm(grad_weight, logits.t(), x_low, out_dtype=fp32, out=grad_weight)
                    del x_low
            del x_chunk
        del logits_storage, logits
        loss = torch.sum(loss_1d)
        ctx.save_for_backward(grad_input.detach(), grad_weight.detach() if grad_weight is not None else None)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        grad_input, grad_weight = ctx.saved_tensors     # grad_output is 1.0: Liger leaves them untouched
        return grad_input, grad_weight, None


def liger_loss(model, ids):
    """transformers' base model, then the loss on its last hidden state (LigerForCausalLMLoss)."""
    core = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = core.model(input_ids=ids).last_hidden_state
    labels = torch.nn.functional.pad(ids, (0, 1), value=-100)[..., 1:].contiguous()
    return LigerFLCEEmulation.apply(hidden.view(-1, hidden.shape[-1]), core.lm_head.weight, labels.view(-1))


CASES = [
    ("llama-mha", "bf16-adamw-s1024", dict(precision="bf16", seq=1024, batch=2)),
    ("llama-mha", "fp32-adamw", dict(precision="fp32")),
    ("qwen2-152k", "bf16-adamw-s1024", dict(precision="bf16", seq=1024, batch=2)),
    ("qwen2-152k", "bf16-lora-s1024", dict(precision="bf16", seq=1024, batch=2, lora_rank=16)),
    ("gemma3-262k", "bf16-adamw", dict(precision="bf16")),
    ("llama-mha", "mixed-adamw-s1024", dict(seq=1024, batch=2)),
    ("qwen2-152k", "mixed-adamw-s1024", dict(seq=1024, batch=2)),
    ("qwen2-152k", "mixed-lora-s1024", dict(seq=1024, batch=2, lora_rank=16)),
]


def run_case(arch, settings):
    s = {**g.BASE, **settings}
    config = g.build_config(g.ARCHS[arch], s["attention"])
    with FakeTensorMode():
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, dtype=g.DTYPES[s["precision"]])
        model.train()
        if s["lora_rank"]:
            lcfg = g.peft.LoraConfig(r=s["lora_rank"], lora_alpha=2 * s["lora_rank"], lora_dropout=0.0,
                                     target_modules="all-linear", task_type="CAUSAL_LM")
            orig_to, torch.nn.Module.to = torch.nn.Module.to, g._plain_to
            try:
                model = g.peft.get_peft_model(model, lcfg)
            finally:
                torch.nn.Module.to = orig_to
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt = g._make_optimizer(s["optimizer"], trainable, s["foreach"])
        ids = torch.randint(0, g.ARCHS[arch]["vocab_size"], (s["batch"], s["seq"]))
        mt = g.FrozenAwareMemTracker()
        mt.track_external(model, opt, ids)
        steps = []
        with mt:
            for _ in range(2):
                phases = {}
                g._start_phase(mt)
                if s["precision"] == "mixed":
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        loss = liger_loss(model, ids)
                else:
                    loss = liger_loss(model, ids)
                phases["forward"] = dict(peak=g._snapshot(mt, "peak"), end=g._snapshot(mt, "current"))
                g._start_phase(mt)
                loss.backward()
                del loss
                phases["backward"] = dict(peak=g._snapshot(mt, "peak"), end=g._snapshot(mt, "current"))
                g._start_phase(mt)
                opt.step()
                phases["optimizer_step"] = dict(peak=g._snapshot(mt, "peak"), end=g._snapshot(mt, "current"))
                g._start_phase(mt)
                opt.zero_grad(set_to_none=True)
                phases["zero_grad"] = dict(peak=g._snapshot(mt, "peak"), end=g._snapshot(mt, "current"))
                tensors = [t for st in opt.state.values() for t in st.values() if isinstance(t, torch.Tensor)]
                steps.append(dict(phases=phases, optimizer_state_bytes=g._storages_bytes(tensors)))
                mt.reset_mod_stats()
        params = list(model.parameters())
        rec = dict(arch=arch, settings=s, params=sum(p.numel() for p in params),
                   trainable_params=sum(p.numel() for p in trainable), steps=steps)
    best = None
    for i, st in enumerate(rec["steps"]):
        for ph, d in st["phases"].items():
            if best is None or d["peak"].get("Total", 0) >= best[2]["Total"]:
                best = (i + 1, ph, d["peak"])
    rec["peak_bytes"] = best[2]["Total"]
    rec["peak_step"], rec["peak_phase"], rec["peak_snapshot"] = best
    return rec


def main() -> int:
    only = sys.argv[1:]
    out = harness.cases_of(OUT) if only else {}
    failures = harness.measure(
        [(f"{arch}/{suffix}", arch, st) for arch, suffix, st in CASES if harness.wanted(f"{arch}/{suffix}", only)],
        lambda arch, st: {**run_case(arch, st), "config": g.ARCHS[arch]}, out,
        lambda rec: f"peak {rec['peak_bytes'] / 2**20:9.1f} MiB {rec['peak_phase']}")
    meta = dict(harness.header(__file__, "peft"),
                emulates="liger-kernel 0.8.5 fused_linear_cross_entropy_forward/backward (CUDA paths "
                         "with and without autocast); the Triton cross-entropy kernel and the "
                         "out_dtype addmm write in place",
                tracker="torch.distributed._tools.mem_tracker.MemTracker under FakeTensorMode (fake CPU device)",
                steps=2)
    return harness.finish(OUT, meta, out, failures)


if __name__ == "__main__":
    raise SystemExit(main())
