"""Write tests/reference/training_offload.json: activation offloading with torch.autograd.graph.save_on_cpu.

`save_on_cpu` is a pair of saved-tensor hooks: pack copies every tensor autograd saves to host memory
(`tensor.cpu()`), unpack copies it back (`tensor.to(device)`) when its backward node runs. On a CPU
model it is a no-op (the tensors are already there), so this file runs the CPU model of
generate_training.py (FakeTensorMode, MemTracker, two steps) with the same two hooks pointed at the
meta device: the CPU plays the GPU and `meta` plays the host, with exactly save_on_cpu's copies. The
model's whole forward, loss included, runs under the hooks (`with save_on_cpu(): loss = model(...)`).
MemTracker's `cpu` device is what the GPU would hold; `meta` what the host would.

    python tests/reference/generate_training_offload.py            # all cases
    python tests/reference/generate_training_offload.py -gc qwen2  # case ids containing '-gc' or 'qwen2'
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import _harness as harness  # noqa: E402
import generate_training as g  # noqa: E402

OUT = Path(__file__).with_name("training_offload.json")
HOST = "meta"


def _pack(t):
    return (t.device, t.to(HOST))            # save_on_cpu(pin_memory=False): (device, tensor.cpu())


def _unpack(packed):
    device, t = packed
    return t.to(device)


class _Offloaded:
    """transformers' Auto class, whose models run forward (and the loss) under the offloading hooks."""

    @staticmethod
    def from_config(config, **kw):
        model = _Offloaded.real.from_config(config, **kw)
        inner = model.forward

        def forward(*a, **k):
            with torch.autograd.graph.saved_tensors_hooks(_pack, _unpack):
                return inner(*a, **k)

        model.forward = forward
        return model


def _device_snapshot(mt, kind, device):
    out = {}
    for dev, snap in mt.get_tracker_snapshot(kind).items():
        if str(dev) == device:
            for k, v in snap.items():
                out[k.value if hasattr(k, "value") else str(k)] = int(v)
    return out


CASES = [
    ("llama-mha", "mixed-adamw-s1024", dict(seq=1024, batch=2)),
    ("llama-mha", "bf16-adamw-s1024", dict(precision="bf16", seq=1024, batch=2)),
    ("qwen2-152k", "bf16-adamw", dict(precision="bf16")),
    ("llama-mha", "bf16-lora-s1024", dict(precision="bf16", seq=1024, batch=2, lora_rank=16)),
]

# With Trainer's gradient checkpointing (activation_checkpointing_enable with no kwargs: use_reentrant=False)
# inside the same offloaded forward: each checkpointed layer's inputs are saved by checkpoint's
# _NoopSaveInputs under the outer hooks (so they go to the host); what a layer saves inside its checkpoint
# goes to checkpoint's own hooks, and the recompute in backward runs on the GPU, outside save_on_cpu.
GC_CASES = [
    ("llama-mha", "mixed-adamw-s1024-gc", dict(seq=1024, batch=2, gradient_checkpointing=True)),
    ("llama-mha", "bf16-adamw-s1024-gc", dict(precision="bf16", seq=1024, batch=2, gradient_checkpointing=True)),
    ("qwen2-152k", "bf16-adamw-gc", dict(precision="bf16", gradient_checkpointing=True)),
    ("llama-mha", "bf16-lora-s1024-gc", dict(precision="bf16", seq=1024, batch=2, lora_rank=16,
                                             gradient_checkpointing=True)),
    # a small vocabulary: the loss no longer dominates, so the peak comes inside a layer's backward, where
    # checkpointing recomputes the layer on the GPU (outside save_on_cpu)
    ("llama-v2k", "bf16-adamw-s1024", dict(precision="bf16", seq=1024, batch=2)),
    ("llama-v2k", "bf16-adamw-s1024-gc", dict(precision="bf16", seq=1024, batch=2, gradient_checkpointing=True)),
    ("llama-v2k", "mixed-adamw-s1024-gc", dict(seq=1024, batch=2, gradient_checkpointing=True)),
]
SMALL_VOCAB = {"llama-v2k": dict(g.ARCHS["llama-mha"], vocab_size=2048)}


def main() -> int:
    only = sys.argv[1:]  # case ids containing one of these, merged into the file (default: all, rewritten)
    out = harness.cases_of(OUT) if only else {}
    orig_snapshot = g._snapshot
    g._snapshot = lambda mt, kind: _device_snapshot(mt, kind, "cpu")   # the GPU's share only
    real = g.AutoModelForCausalLM
    _Offloaded.real = real
    g.ARCHS_ALL.update(SMALL_VOCAB)
    g.AutoModelForCausalLM = _Offloaded
    try:
        failures = harness.measure(
            [(f"{arch}/{suffix}", arch, st) for arch, suffix, st in CASES + GC_CASES
             if harness.wanted(f"{arch}/{suffix}", only)],
            lambda arch, st: {**g.run_case(arch, st), "config": {**g.ARCHS, **SMALL_VOCAB}[arch]}, out,
            lambda rec: f"GPU peak {rec['peak_bytes'] / 2**20:9.1f} MiB {rec['peak_phase']}")
    finally:
        g._snapshot, g.AutoModelForCausalLM = orig_snapshot, real
    meta = dict(harness.header(__file__, "peft"),
                offload="torch.autograd.graph.save_on_cpu's pack/unpack (host = the meta device) around "
                        "the model's forward and loss", gpu_device="cpu (MemTracker's per-device peak)",
                tracker="torch.distributed._tools.mem_tracker.MemTracker under FakeTensorMode",
                steps=2)
    return harness.finish(OUT, meta, out, failures)


if __name__ == "__main__":
    raise SystemExit(main())
