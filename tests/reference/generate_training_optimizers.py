"""Write tests/reference/training_optimizers.json: optimizers and QLoRA that FakeTensorMode cannot run.

Needs torch, transformers, peft, bitsandbytes (>= 0.49, which has CPU kernels for its optimizers and
4-bit layers) and lion-pytorch (NOT the book's environment):

    python tests/reference/generate_training_optimizers.py            # all cases
    python tests/reference/generate_training_optimizers.py adafactor  # case ids containing 'adafactor'

Adafactor's step calls `.item()`-like reductions and bitsandbytes runs its own kernels, so these cases
use *real* tensors on the CPU, small models (two layers, width 256), two training steps under
`torch.distributed._tools.mem_tracker.MemTracker` (which tracks real CPU tensors as it tracks fake
ones), with the per-phase peaks of generate_training.py. Each case also records the optimizer's
state tensors after each step (bytes by dtype, storages counted once: bitsandbytes' quantile maps are
shared by all parameters).

What the CPU run shows and CUDA would not, and the other way round:
- bitsandbytes' CPU optimizer kernels are Python functions behind `torch.ops.bitsandbytes.*`; MemTracker
  sees their outputs, not the fp32 copies they make inside (a dispatch mode is off inside the op it
  intercepts), which is what the in-place CUDA kernels allocate: nothing beyond the states.
- QLoRA: the 4-bit weights are `Params4bit` parameters (packed uint8, counted by MemTracker); their
  `quant_state` (absmax, the double-quant absmax and maps) are plain tensors outside the module's
  parameters and buffers, made before tracking starts, so MemTracker does not count them:
  `quant_state_bytes` sums them (storages once) and `peak_bytes_with_quant_state` adds them.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.modules.setdefault("gptqmodel", None)  # see generate_training.py

import bitsandbytes as bnb  # noqa: E402
import lion_pytorch  # noqa: E402
import peft  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, BitsAndBytesConfig  # noqa: E402
from transformers.optimization import Adafactor  # noqa: E402

import _harness as harness  # noqa: E402
from generate_training import (FrozenAwareMemTracker, _snapshot, _start_phase,  # noqa: E402
                               _storages_bytes, build_config)

OUT = Path(__file__).with_name("training_optimizers.json")
# Real tensors on a shared CPU: narrower than archs.py (the optimizers' arithmetic does not depend on
# the width); one untied llama and one tied qwen2 with a larger vocabulary.
ARCHS = {
    "llama-small": dict(model_type="llama", hidden_size=256, intermediate_size=688, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=4, vocab_size=8192,
                        tie_word_embeddings=False, max_position_embeddings=2048),
    "qwen2-small": dict(model_type="qwen2", hidden_size=256, intermediate_size=768, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, vocab_size=32000,
                        tie_word_embeddings=True, max_position_embeddings=2048),
}
BASE = dict(seq=64, batch=2, precision="mixed", optimizer="adamw", lora_rank=0, qlora=False,
            prepare_kbit=False, attention="sdpa")


def make_optimizer(name: str, params):
    """The optimizer as a user (or Trainer's `optim`) builds it."""
    if name == "adamw":                 # torch.optim.AdamW, foreach as on CUDA
        return torch.optim.AdamW(params, lr=1e-4, foreach=True)
    if name == "adafactor":             # Trainer's optim="adafactor": transformers' Adafactor
        return Adafactor(params, lr=1e-3, scale_parameter=False, relative_step=False)
    if name == "adafactor-torch":       # torch.optim.Adafactor, single-tensor
        return torch.optim.Adafactor(params, lr=1e-3, foreach=False)
    if name == "adafactor-torch-foreach":
        return torch.optim.Adafactor(params, lr=1e-3, foreach=True)
    if name == "adamw8bit":             # Trainer's optim="adamw_bnb_8bit" / "adamw_8bit"
        return bnb.optim.AdamW8bit(params, lr=1e-4)
    if name == "lion":                  # lion-pytorch
        return lion_pytorch.Lion(params, lr=1e-4)
    if name == "lion32bit":             # Trainer's optim="lion_32bit": bitsandbytes Lion
        return bnb.optim.Lion(params, lr=1e-4)
    if name == "lion8bit":              # Trainer's optim="lion_8bit"
        return bnb.optim.Lion8bit(params, lr=1e-4)
    if name == "paged-adamw8bit":       # Trainer's optim="paged_adamw_8bit" (on a CPU: ordinary tensors)
        return bnb.optim.PagedAdamW8bit(params, lr=1e-4)
    if name == "paged-adamw32bit":      # Trainer's optim="paged_adamw_32bit"
        return bnb.optim.PagedAdamW32bit(params, lr=1e-4)
    raise ValueError(name)


OPTIMIZERS = ("adamw", "adafactor", "adafactor-torch", "adafactor-torch-foreach", "adamw8bit", "lion", "lion32bit", "lion8bit")


def cases():
    for opt in OPTIMIZERS:
        for prec in ("mixed", "bf16"):
            yield f"llama-small/{prec}-{opt}", "llama-small", dict(precision=prec, optimizer=opt)
    yield "qwen2-small/bf16-adafactor", "qwen2-small", dict(precision="bf16", optimizer="adafactor")
    yield "qwen2-small/bf16-adamw8bit", "qwen2-small", dict(precision="bf16", optimizer="adamw8bit")
    yield "llama-small/bf16-lora-adamw8bit", "llama-small", dict(precision="bf16", optimizer="adamw8bit", lora_rank=16)
    for arch in ("llama-small", "qwen2-small"):
        yield f"{arch}/qlora-adamw", arch, dict(precision="bf16", qlora=True, lora_rank=16)
        yield f"{arch}/qlora-adamw8bit", arch, dict(precision="bf16", qlora=True, lora_rank=16, optimizer="adamw8bit")
    yield "llama-small/qlora-adamw-s256", "llama-small", dict(precision="bf16", qlora=True, lora_rank=16, seq=256)
    yield "llama-small/qlora-prepare-adamw", "llama-small", dict(precision="bf16", qlora=True, lora_rank=16,
                                                             prepare_kbit=True)
    yield from prepare_cases()
    yield from paged_cases()


def paged_cases():
    """bitsandbytes' paged optimizers. On a CPU `get_state_buffer` falls back to ordinary tensors (with a
    warning), so these record the states' total, not what CUDA unified memory would hold apart."""
    yield "llama-small/bf16-paged-adamw8bit", "llama-small", dict(precision="bf16", optimizer="paged-adamw8bit")
    yield "llama-small/mixed-paged-adamw32bit", "llama-small", dict(precision="mixed", optimizer="paged-adamw32bit")
    yield "qwen2-small/qlora-paged-adamw8bit", "qwen2-small", dict(precision="bf16", qlora=True, lora_rank=16,
                                                                  optimizer="paged-adamw8bit")


def prepare_cases():
    """peft.prepare_model_for_kbit_training as the QLoRA notebooks call it: with and without its default
    gradient checkpointing (use_gradient_checkpointing=True: torch's reentrant checkpoint plus
    enable_input_require_grads), without and with bf16 autocast (Trainer(bf16=True)), on the untied
    llama and the tied qwen2; and QLoRA under autocast without prepare, for comparison."""
    q = dict(qlora=True, lora_rank=16, prepare_kbit=True)
    yield "llama-small/qlora-prepare-gc-adamw", "llama-small", dict(q, precision="bf16", gradient_checkpointing=True)
    yield "llama-small/qlora-prepare-mixed-adamw", "llama-small", dict(q, precision="mixed")
    yield "llama-small/qlora-prepare-mixed-gc-adamw", "llama-small", dict(q, precision="mixed",
                                                                          gradient_checkpointing=True)
    yield "qwen2-small/qlora-prepare-adamw", "qwen2-small", dict(q, precision="bf16")
    yield "qwen2-small/qlora-prepare-mixed-gc-adamw", "qwen2-small", dict(q, precision="mixed",
                                                                          gradient_checkpointing=True)
    yield "llama-small/qlora-mixed-adamw", "llama-small", dict(precision="mixed", qlora=True, lora_rank=16)
    yield "llama-small/fp32-lora-adamw", "llama-small", dict(precision="fp32", lora_rank=16)


def _quant_state_bytes(model) -> int:
    tensors = []
    for m in model.modules():
        w = getattr(m, "weight", None)
        qs = getattr(w, "quant_state", None)
        if qs is None:
            continue
        tensors += [qs.absmax, qs.code]
        if qs.nested and qs.state2 is not None:
            tensors += [qs.state2.absmax, qs.state2.code]
        if isinstance(qs.offset, torch.Tensor):
            tensors.append(qs.offset)
    return _storages_bytes([t for t in tensors if isinstance(t, torch.Tensor)])


def build_model(arch: str, s: dict, tmp: Path):
    config = build_config(ARCHS[arch], s["attention"])
    dtype = torch.float32 if s["precision"] in ("mixed", "fp32") else torch.bfloat16
    torch.manual_seed(0)
    if not s["qlora"]:
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    else:
        AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).save_pretrained(tmp)
        q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(tmp, quantization_config=q, dtype=torch.bfloat16,
                                                     device_map="cpu")
        if s["prepare_kbit"]:  # what the QLoRA notebooks call: non-4-bit parameters up-cast to fp32
            model = peft.prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=s.get("gradient_checkpointing", False))
    model.train()
    if s["lora_rank"]:
        lcfg = peft.LoraConfig(r=s["lora_rank"], lora_alpha=2 * s["lora_rank"], lora_dropout=0.0,
                               target_modules="all-linear", task_type="CAUSAL_LM")
        model = peft.get_peft_model(model, lcfg)
    return model


def run_case(arch: str, settings: dict) -> dict:
    s = {**BASE, **settings}
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(arch, s, Path(tmp))
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(s["optimizer"], trainable)
    torch.manual_seed(1)
    ids = torch.randint(0, ARCHS[arch]["vocab_size"], (s["batch"], s["seq"]))
    quant_bytes = _quant_state_bytes(model) if s["qlora"] else 0
    mt = FrozenAwareMemTracker()
    mt.track_external(model, opt, ids)
    steps = []
    with mt:
        for _ in range(2):
            phases = {}
            _start_phase(mt)
            if s["precision"] == "mixed":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    loss = model(input_ids=ids, labels=ids).loss
            else:
                loss = model(input_ids=ids, labels=ids).loss
            phases["forward"] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
            _start_phase(mt)
            loss.backward()
            del loss
            phases["backward"] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
            _start_phase(mt)
            opt.step()
            phases["optimizer_step"] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
            _start_phase(mt)
            opt.zero_grad(set_to_none=True)
            phases["zero_grad"] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
            tensors = [v for st in opt.state.values() for v in st.values() if isinstance(v, torch.Tensor)]
            by_dtype: dict[str, int] = {}
            for t in tensors:
                k = str(t.dtype).replace("torch.", "")
                by_dtype[k] = by_dtype.get(k, 0) + t.numel() * t.element_size()
            steps.append(dict(phases=phases, optimizer_state_bytes=_storages_bytes(tensors),
                              optimizer_state_by_dtype=by_dtype))
            mt.reset_mod_stats()
    params = list(model.parameters())
    rec = dict(arch=arch, settings=s, params=sum(p.numel() for p in params),
               trainable_params=sum(p.numel() for p in trainable), param_bytes=_storages_bytes(params),
               param_dtypes=sorted({str(p.dtype).replace("torch.", "") for p in params}),
               trainable_dtypes=sorted({str(p.dtype).replace("torch.", "") for p in trainable}),
               trainable_shapes=[list(p.shape) for p in trainable],
               buffer_bytes=_storages_bytes(list(model.buffers())), quant_state_bytes=quant_bytes,
               optimizer_class=f"{type(opt).__module__}.{type(opt).__name__}", steps=steps)
    best = None
    for i, st in enumerate(steps):
        for ph, d in st["phases"].items():
            if best is None or d["peak"].get("Total", 0) >= best[2]["Total"]:
                best = (i + 1, ph, d["peak"])
    rec["peak_bytes"] = best[2]["Total"]
    rec["peak_step"], rec["peak_phase"], rec["peak_snapshot"] = best
    rec["peak_bytes_with_quant_state"] = rec["peak_bytes"] + quant_bytes
    return rec


def main() -> int:
    only = sys.argv[1:]
    out = harness.cases_of(OUT) if only else {}
    torch.set_num_threads(1)
    failures = harness.measure(
        [c for c in cases() if harness.wanted(c[0], only)],
        lambda arch, st: {**run_case(arch, st), "config": ARCHS[arch]}, out,
        lambda rec: (f"peak {rec['peak_bytes'] / 2**20:8.1f} MiB {rec['peak_phase']:<15} states "
                     f"{rec['steps'][-1]['optimizer_state_bytes'] / 2**20:7.2f} MiB"))
    meta = dict(
        harness.header(__file__, "peft", "bitsandbytes", "lion_pytorch"),
        tracker="torch.distributed._tools.mem_tracker.MemTracker over real CPU tensors",
        steps=2, loss="transformers' ForCausalLMLoss (labels=input_ids)",
        mixed="fp32 weights, torch.autocast('cpu', bfloat16)",
        lora="peft LoraConfig(r, lora_alpha=2r, lora_dropout=0.0, target_modules='all-linear')",
        qlora=("from_pretrained(BitsAndBytesConfig(load_in_4bit, nf4, double quant, compute bf16), dtype=bf16) "
               "+ LoRA; prepare_kbit: peft.prepare_model_for_kbit_training(use_gradient_checkpointing="
               "settings.gradient_checkpointing, absent: False), checkpointing as peft enables it (no "
               "use_reentrant passed: torch's reentrant default, enable_input_require_grads)"),
        optimizers={
            "adamw": "torch.optim.AdamW(foreach=True)",
            "adafactor": "transformers.optimization.Adafactor(scale_parameter=False, relative_step=False) (Trainer)",
            "adafactor-torch": "torch.optim.Adafactor(foreach=False)",
            "adafactor-torch-foreach": "torch.optim.Adafactor(foreach=True)",
            "adamw8bit": "bitsandbytes.optim.AdamW8bit (Trainer adamw_bnb_8bit)",
            "lion": "lion_pytorch.Lion", "lion32bit": "bitsandbytes.optim.Lion (Trainer lion_32bit)",
            "lion8bit": "bitsandbytes.optim.Lion8bit (Trainer lion_8bit)",
            "paged-adamw8bit": "bitsandbytes.optim.PagedAdamW8bit (Trainer paged_adamw_8bit; CPU: not paged)",
            "paged-adamw32bit": "bitsandbytes.optim.PagedAdamW32bit (Trainer paged_adamw_32bit; CPU: not paged)"})
    return harness.finish(OUT, meta, out, failures)


if __name__ == "__main__":
    raise SystemExit(main())
