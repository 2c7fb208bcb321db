"""Write tests/reference/training.json: training-step memory peaks measured by PyTorch's MemTracker.

Needs torch, transformers and peft (NOT the book's environment; use a separate virtualenv):

    python tests/reference/generate_training.py            # all cases, rewrites training.json
    python tests/reference/generate_training.py --only gpt2 # cases whose id contains 'gpt2'

Every case builds a small transformers model *inside* `FakeTensorMode` (no real memory is used,
the model stays on the fake CPU device), runs two full training steps (forward with the loss,
backward, optimizer.step, zero_grad(set_to_none=True)) under
`torch.distributed._tools.mem_tracker.MemTracker`, and records for every phase of every step the
peak of tracked tensor bytes and MemTracker's breakdown at that moment (Parameter, Buffer,
Gradient, Activation, Temp, Optstate, Other). Two steps are needed because the optimizer states are
created during the first step: the second step is the steady state.

Per-phase peaks use MemTracker's private `_peak_mem` / `_peak_mem_snap`, reset at the start of each
phase; `reset_mod_stats()` is called between steps as MemTracker requires.

Mixed precision is fp32 weights under `torch.autocast("cpu", dtype=torch.bfloat16)`: CPU autocast
is the stand-in for CUDA autocast (both cast linear/matmul/SDPA inputs to bf16; see README.md).
"""
from __future__ import annotations

import argparse
import sys
from copy import deepcopy
from pathlib import Path

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.distributed._tools.mem_tracker import MemTracker, _MemRefType

import _harness as harness  # noqa: E402 (sibling module)
from archs import shared  # noqa: E402 (sibling module: the scripts run from this folder)
from transformers import AutoModelForCausalLM
from training_hybrid_cases import HYBRID_ARCHS, hybrid_cases  # noqa: E402 (sibling module)
import cuda_sdpa  # noqa: E402 (sibling module: SDPA as CUDA dispatches it, for the families it routes)
from training_jamba_cases import JAMBA_ARCHS, jamba_cases  # noqa: E402 (sibling module)
from training_gemma3n_cases import GEMMA3N_ARCHS, gemma3n_cases  # noqa: E402 (sibling module)

# A GPTQ library in the same environment (installed for the quantized-checkpoint fixtures) makes
# peft import it, and it may not import cleanly; LoRA here never needs it.
sys.modules.setdefault("gptqmodel", None)
try:
    import peft
except ImportError:  # LoRA cases are skipped without peft
    peft = None

OUT = Path(__file__).with_name("training.json")
# `--set loops`: the loop a user writes and the Trainer's defaults (issue 17), in their own file so that
# the base cases keep the versions they were measured with.
OUT_LOOPS = Path(__file__).with_name("training_loops.json")
# `--set hybrids`: hybrid (Gated DeltaNet, Mamba, Mamba-2, short conv) and 2026 attention families.
OUT_HYBRIDS = Path(__file__).with_name("training_hybrids.json")
# `--set jamba`: Jamba's Mamba-1 mixer at other sizes and settings (training_jamba_cases.py).
OUT_JAMBA = Path(__file__).with_name("training_jamba.json")
# `--set gemma3n`: Gemma 3n's sparse MLPs, sliding masks, LoRA under autocast and the backward walk.
OUT_GEMMA3N = Path(__file__).with_name("training_gemma3n.json")

# Small versions of real architectures: a few layers, real vocabularies.
ARCHS: dict[str, dict] = {
    **shared('llama-mha', 'llama-gqa-128k', 'mistral-gqa', 'qwen2-152k'),
    "qwen3-152k": dict(model_type="qwen3", hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                       num_attention_heads=8, num_key_value_heads=4, head_dim=128, vocab_size=151936,
                       tie_word_embeddings=True, max_position_embeddings=4096),
    **shared('gemma3-262k'),
    # attn_pdrop=0: with attention dropout, CPU SDPA falls back to the math kernel (a seq x seq matrix),
    # which CUDA's flash/efficient kernels do not; residual and embedding dropout stay at 0.1.
    "gpt2": dict(model_type="gpt2", n_embd=512, n_layer=4, n_head=8, vocab_size=50257, n_positions=1024,
                 attn_pdrop=0.0),
    "phi3": dict(model_type="phi3", hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                 num_attention_heads=8, num_key_value_heads=8, vocab_size=32064,
                 tie_word_embeddings=False, max_position_embeddings=4096, pad_token_id=0),
    **shared('gpt-neox', 'olmo2', 'qwen3-moe', 'mixtral-moe'),
}
ARCHS_ALL = {**ARCHS, **HYBRID_ARCHS, **JAMBA_ARCHS, **GEMMA3N_ARCHS}

# The settings every architecture runs (id suffix -> settings).
BASE = dict(seq=256, batch=2, precision="mixed", optimizer="adamw", foreach=True,
            gradient_checkpointing=False, lora_rank=0, attention="sdpa", keep_outputs=False, grad_accum=1)
MATRIX = {
    "bf16-adamw": dict(precision="bf16"),
    "mixed-adamw": dict(),
    "fp32-sgd": dict(precision="fp32", optimizer="sgd"),
    "mixed-adamw-gc": dict(gradient_checkpointing=True),
    "bf16-lora": dict(precision="bf16", lora_rank=16),
}
# Extra settings on a few architectures: other optimizers, implementations, attention, sizes.
EXTRA = [
    ("llama-mha", "mixed-adamw-forloop", dict(foreach=False)),
    ("llama-mha", "mixed-adamw-eager", dict(attention="eager")),
    ("llama-mha", "bf16-sgd-nomomentum", dict(precision="bf16", optimizer="sgd-plain")),
    ("llama-mha", "fp16-adamw", dict(precision="fp16")),
    ("llama-mha", "fp32-adamw", dict(precision="fp32")),
    ("llama-mha", "mixed-adam", dict(optimizer="adam")),
    ("llama-mha", "mixed-adamw-fused", dict(optimizer="adamw-fused", foreach=False)),
    ("llama-mha", "mixed-lora", dict(lora_rank=8)),
    ("llama-mha", "bf16-lora-gc", dict(precision="bf16", lora_rank=16, gradient_checkpointing=True)),
    ("llama-mha", "mixed-adamw-s1024-b1", dict(seq=1024, batch=1)),
    ("qwen2-152k", "mixed-adamw-s512-b4", dict(seq=512, batch=4)),
    ("qwen2-152k", "bf16-adamw-forloop", dict(precision="bf16", foreach=False)),
    ("gpt2", "mixed-adamw-eager", dict(attention="eager")),
    ("gemma3-262k", "bf16-adamw-gc", dict(precision="bf16", gradient_checkpointing=True)),
    ("llama-gqa-128k", "bf16-adamw-s1024", dict(precision="bf16", seq=1024, batch=1)),
]
# The loop variants: a hand-written loop that keeps the outputs, gradient accumulation, and what
# Trainer runs by default with torch >= 2.8 (optim="adamw_torch_fused", transformers' training_args).
LOOP_ARCHS = ("llama-mha", "qwen2-152k", "gemma3-262k", "gpt2")
LOOPS = {
    "mixed-adamw-keep": dict(keep_outputs=True),
    "bf16-adamw-keep": dict(precision="bf16", keep_outputs=True),
    "mixed-adamw-ga2": dict(grad_accum=2),
    "bf16-adamw-ga4": dict(precision="bf16", grad_accum=4),
    "mixed-fused-trainer": dict(optimizer="adamw-fused", foreach=False),
    "mixed-fused-keep-ga2": dict(optimizer="adamw-fused", foreach=False, keep_outputs=True, grad_accum=2),
    "mixed-adamw-gc-ga2": dict(gradient_checkpointing=True, grad_accum=2),
    "bf16-lora-keep": dict(precision="bf16", lora_rank=16, keep_outputs=True),
}


# The other training architectures run the loop variants that move the peak most (issue 17: every
# architecture that trains); the MoE ones only the bf16 variants (see cases()).
LOOP_ARCHS_MORE = ("llama-gqa-128k", "mistral-gqa", "qwen3-152k", "phi3", "gpt-neox", "olmo2", "qwen3-moe",
                   "mixtral-moe")
LOOPS_MORE = ("mixed-adamw-keep", "bf16-adamw-keep", "mixed-adamw-ga2", "bf16-adamw-ga4", "mixed-fused-trainer",
              "bf16-lora-keep")


def loop_cases():
    table = [(a, LOOPS) for a in LOOP_ARCHS] + [(a, {k: LOOPS[k] for k in LOOPS_MORE}) for a in LOOP_ARCHS_MORE]
    for arch, settings in table:
        for suffix, st in settings.items():
            if arch.endswith("-moe") and st.get("precision", BASE["precision"]) != "bf16":
                continue  # see cases(): fp32 MoE experts cannot run under FakeTensorMode here
            yield f"{arch}/{suffix}", arch, st


DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32, "mixed": torch.float32}
CATEGORIES = {str(k.value): k for k in _MemRefType}


class FrozenAwareMemTracker(MemTracker):
    """MemTracker that does not hook gradients of frozen parameters.

    MemTracker registers a gradient hook on every parameter; `register_hook` raises on a tensor that
    does not require grad (LoRA's frozen base weights). Skipping those hooks changes nothing that
    gets allocated: frozen weights never get gradients.
    """

    def _track_module_params_and_buffers(self, module, install_grad_hooks=True):
        frozen = [p for p in module.parameters() if not p.requires_grad]
        for p in frozen:
            # a sentinel so the base class believes the hooks are already installed
            self._param_to_grad_hook_handles.setdefault(p, ())
        return super()._track_module_params_and_buffers(module, install_grad_hooks)

    def _deregister_param_and_optimizer_hooks(self):
        for handles in self._param_to_grad_hook_handles.values():
            for h in handles:
                h.remove()
        self._param_to_grad_hook_handles.clear()
        if self._optimizer_hook_handles is not None:
            for h in self._optimizer_hook_handles:
                h.remove()
            self._optimizer_hook_handles = None


def _plain_to(self, *args, **kwargs):
    """`Module.to` without `swap_tensors`: FakeTensors carry weakrefs, so the swap PyTorch uses for
    tensor subclasses fails ("Couldn't swap Linear.weight") when PEFT moves its adapters. New
    Parameters with the converted data allocate exactly what the swap would have."""
    device, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)
    for mod in self.modules():
        for name, p in list(mod._parameters.items()):
            if p is not None:
                new = p.data.to(device=device or p.device, dtype=dtype if (dtype and p.is_floating_point()) else p.dtype)
                mod._parameters[name] = torch.nn.Parameter(new, requires_grad=p.requires_grad)
        for name, b in list(mod._buffers.items()):
            if b is not None:
                mod._buffers[name] = b.to(device=device or b.device,
                                          dtype=dtype if (dtype and b.is_floating_point()) else b.dtype)
    return self


def _snapshot(mt: MemTracker, kind: str) -> dict[str, int]:
    snap = mt.get_tracker_snapshot(kind)
    out: dict[str, int] = {}
    for dev_snap in snap.values():
        for k, v in dev_snap.items():
            key = k.value if hasattr(k, "value") else str(k)
            out[key] = out.get(key, 0) + int(v)
    return out


def _start_phase(mt: MemTracker) -> None:
    """Restart MemTracker's running peak at the current memory, so the next peak is this phase's."""
    cur = mt.get_tracker_snapshot("current")
    mt._peak_mem = {dev: s["Total"] for dev, s in cur.items()}
    mt._peak_mem_snap = deepcopy(cur)


def _storages_bytes(tensors) -> int:
    seen, total = set(), 0
    for t in tensors:
        st = t.untyped_storage()
        key = id(st) if not hasattr(st, "_cdata") else st._cdata
        if key not in seen:
            seen.add(key)
            total += st.nbytes()
    return total


def _make_optimizer(name: str, params, foreach: bool):
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-4, foreach=foreach)
    if name == "adamw-fused":
        return torch.optim.AdamW(params, lr=1e-4, fused=True)
    if name == "adam":
        return torch.optim.Adam(params, lr=1e-4, foreach=foreach)
    if name == "sgd":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9, foreach=foreach)
    if name == "sgd-plain":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.0, foreach=foreach)
    if name == "adafactor":
        return torch.optim.Adafactor(params, lr=1e-3, foreach=foreach)
    raise ValueError(name)


build_config = harness.build_config  # re-exported: sibling generators import it from here


def run_case(arch_name: str, settings: dict) -> dict:
    s = {**BASE, **settings}
    config = build_config(ARCHS_ALL[arch_name], s["attention"])
    dtype = DTYPES[s["precision"]]
    with FakeTensorMode(), cuda_sdpa.routed(config.model_type) as kernels:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        model.train()
        if s["gradient_checkpointing"]:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if s["lora_rank"]:
            lcfg = peft.LoraConfig(r=s["lora_rank"], lora_alpha=2 * s["lora_rank"], lora_dropout=0.0,
                                   target_modules="all-linear", task_type="CAUSAL_LM")
            orig_to, torch.nn.Module.to = torch.nn.Module.to, _plain_to
            try:
                model = peft.get_peft_model(model, lcfg)
            finally:
                torch.nn.Module.to = orig_to
            if s["gradient_checkpointing"]:
                model.enable_input_require_grads()
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt = _make_optimizer(s["optimizer"], trainable, s["foreach"])
        ids = torch.randint(0, ARCHS_ALL[arch_name]["vocab_size"], (s["batch"], s["seq"]))
        adapter_dtypes = sorted({str(p.dtype).replace("torch.", "") for p in trainable})

        mt = FrozenAwareMemTracker()
        mt.track_external(model, opt, ids)
        steps = []
        with mt:
            for step in range(2):
                phases = {}
                for micro in range(s["grad_accum"]):
                    # micro-batches after the first run with the gradients of the earlier ones alive
                    tag = "" if s["grad_accum"] == 1 else f".{micro + 1}"
                    _start_phase(mt)
                    if s["precision"] == "mixed":
                        with torch.autocast("cpu", dtype=torch.bfloat16):
                            out = model(input_ids=ids, labels=ids)
                    else:
                        out = model(input_ids=ids, labels=ids)
                    # Trainer's compute_loss keeps only the loss; a hand-written loop keeps `out`
                    # (and with it the logits) alive until after backward.
                    loss = out.loss / s["grad_accum"]
                    if not s["keep_outputs"]:
                        del out
                    phases["forward" + tag] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
                    _start_phase(mt)
                    loss.backward()
                    del loss
                    if s["keep_outputs"]:
                        del out
                    phases["backward" + tag] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
                    if micro + 1 < s["grad_accum"]:
                        mt.reset_mod_stats()  # MemTracker tracks one call per module between resets
                _start_phase(mt)
                opt.step()
                phases["optimizer_step"] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
                _start_phase(mt)
                opt.zero_grad(set_to_none=True)
                phases["zero_grad"] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
                state_tensors = [v for st in opt.state.values() for v in st.values() if isinstance(v, torch.Tensor)]
                steps.append(dict(phases=phases, optimizer_state_bytes=_storages_bytes(state_tensors)))
                mt.reset_mod_stats()
        params = list(model.parameters())
        record = dict(
            arch=arch_name,
            settings=s,
            params=sum(p.numel() for p in params),
            trainable_params=sum(p.numel() for p in trainable),
            param_bytes=_storages_bytes(params),
            trainable_dtypes=adapter_dtypes,
            buffer_bytes=_storages_bytes(list(model.buffers())),
            steps=steps,
        )
        if kernels:  # a routed family: the SDPA kernels CUDA would run, with their call counts
            record["sdpa_kernels"] = dict(sorted(kernels.items()))
    best = None
    for i, st in enumerate(record["steps"]):
        for ph, d in st["phases"].items():
            if best is None or d["peak"].get("Total", 0) >= best[2]["Total"]:  # ties: the later, steady step
                best = (i + 1, ph, d["peak"])
    record["peak_bytes"] = best[2]["Total"]
    record["peak_step"], record["peak_phase"], record["peak_snapshot"] = best
    return record


def cases():
    for arch in ARCHS:
        for suffix, st in MATRIX.items():
            if arch.endswith("-moe") and st.get("precision", BASE["precision"]) != "bf16":
                # MoE experts with fp32 weights cannot run here: the default grouped_mm accepts only
                # bf16 inputs on the CPU path, and the eager experts loop calls nonzero(), whose
                # output shape FakeTensorMode cannot know.
                continue
            yield f"{arch}/{suffix}", arch, st
    for arch, suffix, st in EXTRA:
        yield f"{arch}/{suffix}", arch, st


META = dict(
    tracker="torch.distributed._tools.mem_tracker.MemTracker under FakeTensorMode (fake CPU device)",
    steps=2, loss="transformers' ForCausalLMLoss (labels=input_ids)",
    mixed="fp32 weights, torch.autocast('cpu', bfloat16)",
    lora="peft LoraConfig(r, lora_alpha=2r, lora_dropout=0.0, target_modules='all-linear')",
    gradient_checkpointing="model.gradient_checkpointing_enable(use_reentrant=False)",
    loop=("out = model(input_ids, labels); loss = out.loss / grad_accum; without keep_outputs `out` "
          "is deleted before backward (Trainer's compute_loss), with it after; grad_accum "
          "micro-batches (phases forward.k / backward.k) before each optimizer step"),
    sdpa=cuda_sdpa.META,
)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="run only case ids containing this text (merged into the file)")
    ap.add_argument("--set", choices=("base", "loops", "hybrids", "jamba", "gemma3n"), default="base",
                    help="base: training.json; loops: keep-outputs / accumulation / Trainer defaults; "
                         "hybrids: hybrid and 2026 attention families (training_hybrids.json); "
                         "jamba: Jamba's Mamba-1 mixer at other sizes (training_jamba.json); "
                         "gemma3n: Gemma 3n's further cases (training_gemma3n.json)")
    ap.add_argument("--resume", action="store_true", help="keep the file's cases and run only the missing ones")
    args = ap.parse_args(argv)
    out_path = {"base": OUT, "loops": OUT_LOOPS, "hybrids": OUT_HYBRIDS, "jamba": OUT_JAMBA,
                "gemma3n": OUT_GEMMA3N}[args.set]
    old = harness.cases_of(out_path) if (args.only or args.resume) else {}
    todo = [(cid, arch, st) for cid, arch, st in {"base": cases, "loops": loop_cases, "hybrids": hybrid_cases,
                                                    "jamba": jamba_cases, "gemma3n": gemma3n_cases}[args.set]()
            if args.only in cid and not (args.resume and cid in old) and not (st.get("lora_rank") and peft is None)]
    meta = {**harness.header(__file__, "peft"), **META}
    out = dict(old)
    failures = harness.measure(
        todo, lambda arch, st: {**run_case(arch, st), "config": ARCHS_ALL[arch]}, out,
        lambda rec: f"peak {rec['peak_bytes'] / 2**20:9.1f} MiB at step {rec['peak_step']} {rec['peak_phase']:<15}",
        save=lambda failures: harness.write_cases(out_path, meta, out, failures))
    return harness.finish(out_path, meta, out, failures)


if __name__ == "__main__":
    raise SystemExit(main())
