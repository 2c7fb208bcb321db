"""Run SDPA the way CUDA's dispatcher would, so a FakeTensor run on the CPU saves what a GPU saves.

`torch.nn.functional.scaled_dot_product_attention` picks its kernel by device. On the CPU an
arbitrary mask or unequal q/k and v head dims (MLA: qk_nope + qk_rope against v_head_dim) send it
to the math kernel, which keeps fp32 copies of q, k, v and the batch x heads x seq x seq fp32
probabilities for backward. A GPU runs a fused kernel that keeps none of that. DeepSeek-V3.2's DSA
hands SDPA exactly such a case (a bool mask from the indexer's top-k, MLA head dims), so its CPU
measurement is not what CUDA allocates (DESIGN: peak_bytes is what CUDA runs).

`routed(model_type)` patches `F.scaled_dot_product_attention` for the families in ROUTED with
`cuda_sdpa`, which applies the rules of PyTorch's `select_sdp_backend`
(aten/src/ATen/native/transformers/cuda/sdp_utils.cpp) for dense inputs on TARGET and then calls
the chosen aten op itself, with the same pre-processing as `scaled_dot_product_attention` in
attention.cpp (bool mask to an additive one in the query dtype; flash's head-dim padding). Under
FakeTensorMode those ops run their meta kernels (torch/_meta_registrations.py), and autograd saves
what derivatives.yaml names for them, as on the GPU:

- cudnn_attention:  q, k, v, the additive bias, the output, logsumexp (fp32, B x H x S x 1), RNG seed/offset;
- flash_attention:  q, k, v (head dim padded to 8), the output, logsumexp (fp32, B x H x S), RNG state;
- efficient_attention: q, k, v, the bias (expanded to B x H x S x T, a view), the output,
  logsumexp (fp32, B x H x ceil(S/32)*32), RNG seed/offset;
- math: the composite kernel (as on the CPU).

What this does not see: workspaces the CUDA kernels allocate inside (cuDNN's, the efficient
kernel's fp32 gradient accumulators), which no meta kernel allocates.
"""
from __future__ import annotations

import contextlib
import math
from collections import Counter

import torch
import torch.nn.functional as F

aten = torch.ops.aten

# The GPU whose dispatcher is emulated: Hopper (H100/H200, sm90) with the cuDNN of torch
# 2.14.1+cu130's wheel (nvidia-cudnn-cu13 9.24). There `check_prefer_cudnn_attention` (cuDNN > 9.15
# on sm90/sm100) puts cuDNN first: order cudnn, flash, efficient, math. On sm80 (A100) the order
# is flash, efficient, math (cuDNN last), which gives the efficient kernel where cuDNN runs here:
# the same saved tensors but for logsumexp's padding.
TARGET = dict(gpu="sm90 (H100/H200)", cudnn=92400, order=("cudnn_attention", "flash_attention",
                                                           "efficient_attention", "math"))
# Families whose SDPA calls are routed (only these: every other fixture case keeps its CPU kernel,
# which for them is the flash kernel for CPU, saving what CUDA's flash kernel saves).
ROUTED = {"deepseek_v32"}
META = (f"deepseek_v32 cases: F.scaled_dot_product_attention routed to the aten op that CUDA's "
        f"select_sdp_backend picks on {TARGET['gpu']} with cuDNN {TARGET['cudnn']} (tests/reference/cuda_sdpa.py); "
        f"its meta kernel and derivatives.yaml decide what is allocated and saved")

_HALF = (torch.float16, torch.bfloat16)


def _aligned(t: torch.Tensor, elements: int) -> bool:
    return t.storage_offset() * t.element_size() % (elements * t.element_size()) == 0


def choose(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, enable_gqa=False) -> str:
    """The backend `select_sdp_backend` returns on TARGET for dense 4-D inputs (sdp_utils.cpp)."""
    half = q.dtype in _HALF
    dqk, dv = q.size(-1), v.size(-1)
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v))
    same_heads = q.size(1) == k.size(1) == v.size(1)
    heads_ok = same_heads or (enable_gqa and q.size(1) % k.size(1) == 0)
    stride_ok = all(t.stride(-1) == 1 for t in (q, k, v))
    for backend in TARGET["order"]:
        if backend == "cudnn_attention":
            # check_cudnn_tensor_shapes / d256 bprop (sm90, cuDNN > 9.22): head dims <= 256 and
            # multiples of 8; backward only for (<=128, <=128), (192, 128), (256, 256); dropout in 1/16
            bprop = (dqk <= 128 and dv <= 128) or (dqk, dv) in ((192, 128), (256, 256))
            if (half and dqk <= 256 and dv <= 256 and dqk % 8 == 0 and dv % 8 == 0 and k.size(2) != 1
                    and (bprop or not grad) and dropout_p * 16 == math.floor(dropout_p * 16)
                    and heads_ok and stride_ok):
                return backend
        elif backend == "flash_attention":
            # check_for_attn_mask, check_head_dim_size_flash (all equal, <= 256), causal needs S == T
            if (half and attn_mask is None and dqk == k.size(-1) == dv and dqk <= 256
                    and (not is_causal or q.size(2) == k.size(2)) and heads_ok and stride_ok):
                return backend
        elif backend == "efficient_attention":
            # check_head_dim_size_mem_efficient: q and k equal, q and v multiples of the gemm alignment
            # (8 elements for 16-bit types on sm80+, 4 for fp32); storage offsets aligned likewise
            align = 8 if half else 4
            if (q.dtype in (*_HALF, torch.float32) and dqk == k.size(-1) and dqk % align == 0 and dv % align == 0
                    and all(_aligned(t, align) for t in (q, k, v)) and heads_ok and stride_ok):
                return backend
        else:
            return "math"
    return "math"


def _additive(mask, dtype, fill):
    """attention.cpp's convert_boolean_attn_mask(_cudnn): a bool mask becomes where(~mask, fill, 0)."""
    if mask is None or mask.dtype != torch.bool:
        return mask
    return torch.where(mask.logical_not(), fill, torch.scalar_tensor(0.0, dtype=dtype, device=mask.device))


def _repeat_kv(q, k, v, enable_gqa):
    if not enable_gqa or k.size(1) == q.size(1):
        return k, v
    return k.repeat_interleave(q.size(1) // k.size(1), -3), v.repeat_interleave(q.size(1) // v.size(1), -3)


def _pad8(t):
    return t if t.size(-1) % 8 == 0 else F.pad(t, (0, 8 - t.size(-1) % 8))


class _Router:
    def __init__(self, original):
        self.original = original
        self.kernels: Counter = Counter()

    def __call__(self, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                 enable_gqa=False):
        if torch.is_autocast_enabled("cpu"):
            # CPU autocast stands in for CUDA autocast: both run SDPA in the lower precision (every
            # floating input cast); the aten ops called below are not on CPU autocast's list
            dt = torch.get_autocast_dtype("cpu")
            query, key, value = (t.to(dt) for t in (query, key, value))
            if attn_mask is not None and attn_mask.is_floating_point():
                attn_mask = attn_mask.to(dt)
        backend = choose(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
        self.kernels[backend] += 1
        lse = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
        if backend == "cudnn_attention":  # grouped K and V as they are: cuDNN reads them per group
            bias = _additive(attn_mask, query.dtype, -65504.0)
            return aten._scaled_dot_product_cudnn_attention(query, key, value, bias, lse, dropout_p, is_causal,
                                                            False, scale=scale)[0]
        if backend == "flash_attention":
            d = query.size(-1)
            s = scale if scale is not None else 1 / math.sqrt(d)
            out = aten._scaled_dot_product_flash_attention(_pad8(query), _pad8(key), _pad8(value), dropout_p,
                                                           is_causal, False, scale=s)[0]
            return out[..., :d] if out.size(-1) != d else out
        if backend == "efficient_attention":
            key, value = _repeat_kv(query, key, value, enable_gqa)
            bias = _additive(attn_mask, query.dtype, -math.inf)
            if bias is not None:
                # preprocess_mask: pad the last dim to a multiple of 8 (then slice) unless aligned, then
                # expand to batch x heads x seq x keys (a view)
                if any(bias.stride(i) % 8 for i in range(bias.dim() - 1)):
                    t = bias.size(-1)
                    bias = F.pad(bias, (0, 8 - t % 8 if t % 8 else 0))[..., :t]
                bias = bias.expand(query.size(0), query.size(1), query.size(2), key.size(2))
            return aten._scaled_dot_product_efficient_attention(query, key, value, bias, lse, dropout_p,
                                                                is_causal, scale=scale)[0]
        mask = _additive(attn_mask, query.dtype, -math.inf)
        return aten._scaled_dot_product_attention_math(query, key, value, mask, dropout_p, is_causal, None,
                                                       scale=scale, enable_gqa=enable_gqa)[0]


@contextlib.contextmanager
def routed(model_type: str, force: bool = False):
    """Within the block, route SDPA as CUDA would when `model_type` is in ROUTED (or `force`).

    Yields the Counter of kernels used (empty when not routed)."""
    if model_type not in ROUTED and not force:
        yield Counter()
        return
    router = _Router(F.scaled_dot_product_attention)
    F.scaled_dot_product_attention = router
    try:
        yield router.kernels
    finally:
        F.scaled_dot_product_attention = router.original
