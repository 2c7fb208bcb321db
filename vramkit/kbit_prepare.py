"""peft.prepare_model_for_kbit_training: what it changes in a QLoRA step's memory, in bytes.

Read from peft 0.21 (peft/utils/other.py) and checked against real CPU runs (bitsandbytes' CPU backend)
in tests/reference/training_optimizers.json. The function
1. freezes every parameter, then casts every fp16/bf16 parameter that is not a bitsandbytes `Params4bit`
   to fp32: embeddings, norms, the output head (a tied head once). The 4-bit linears stay small, and their
   biases go back to bf16: bitsandbytes' `Linear4bit.forward` casts a bias to its compute dtype in place.
2. with `use_gradient_checkpointing=True` (its default) turns on gradient checkpointing without passing
   `use_reentrant`, so torch's reentrant checkpoint runs, and calls `enable_input_require_grads` (the
   embedding output requires grad).

What follows for the activations: the embeddings now return fp32, and a bitsandbytes 4-bit linear casts
its input to the compute dtype and its output back to the input's dtype (`Linear4bit.forward`,
bitsandbytes 0.50), so the whole residual stream, the norms, the MLP and the logits run in fp32.
Without autocast the layers save what an fp32 LoRA model saves (`activations.layer_terms` in "fp32").
Under autocast (Trainer(bf16=True)) the residual is fp32 as in "mixed", the 4-bit linears' outputs stay
fp32 (the MLP's intermediates: `fp32_linear_out`), SDPA and the adapters cast their inputs to bf16,
and the fp32 head's matmul saves a bf16 cast of the head weight.
"""
from __future__ import annotations

from . import activations as act
from .errors import VramkitError
from .model import ModelSpec


def check(spec: ModelSpec, qlora: bool) -> None:
    """prepare_kbit is modelled for QLoRA on dense decoders (what the fixtures measure); refuse the rest."""
    if not qlora:
        raise VramkitError("prepare_kbit: peft.prepare_model_for_kbit_training prepares a k-bit model; "
                           "expected --qlora with it")
    if spec.architecture != "decoder" or spec.is_moe or spec.is_hybrid or not spec.lm_head:
        raise VramkitError(f"prepare_kbit: modelled for dense causal LMs only, not {spec.model_type} "
                           f"({'MoE' if spec.is_moe else 'hybrid' if spec.is_hybrid else spec.architecture})")


def upcast_bytes(spec: ModelSpec, quantized_params: int) -> int:
    """Extra bytes of the parameters it up-casts from bf16 to fp32: every one the 4-bit linears do not hold."""
    return 2 * (spec.params() - quantized_params)


def activation_precision(precision: str) -> str:
    """The precision the activations follow: fp32 without autocast, "mixed" under it."""
    return "mixed" if act.PRECISIONS[precision].mixed else "fp32"


def head_cast_bytes(spec: ModelSpec, precision: str) -> int:
    """Under autocast, the bf16 copy of the fp32 head weight that its matmul saves for the input's gradient."""
    return act.weight_cast_bytes(spec.vocab_size * spec.hidden_size, precision)
