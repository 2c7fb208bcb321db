"""The GGUF tensors of a hybrid model's token mixers, as llama.cpp's convert_hf_to_gguf writes them.

One function per mixer kind (`ModelSpec.mixer`), each returning (name, ggml shape with ne[0] first)
for one layer, read from the vendored converter (conversion/mamba.py, granite.py, nemotron.py,
falcon_h1.py, jamba.py, qwen.py, lfm2.py) and llama.cpp's tensor shapes (src/models/*.cpp), and
checked against files the converter wrote (tests/reference/llama_cpp_hybrid.json):

- Mamba-2 (Bamba, Granite 4.0-H, Nemotron-H, Falcon-H1): ssm_in (gate, x, B, C, dt together),
  ssm_conv1d, ssm_dt.bias, ssm_a and ssm_d as (1, heads), ssm_norm grouped as
  (d_inner / groups, groups), ssm_out;
- Mamba-1 (Jamba): ssm_in, ssm_conv1d, ssm_x, ssm_dt, ssm_a (d_state, d_inner), ssm_d and
  Jamba's dt/B/C norms;
- Gated DeltaNet (Qwen3-Next; Qwen3.5 splits ssm_ba into ssm_beta and ssm_alpha): attn_qkv (the
  Q, K, V projection; llama-quantize counts it with the attn_v tensors), attn_gate (z), ssm_ba,
  ssm_conv1d, ssm_dt.bias, ssm_a, ssm_norm (one value head wide), ssm_out;
- short convolution (LFM2): shortconv.in_proj, shortconv.conv, shortconv.out_proj.

llama-quantize keeps the conv kernels, A, D, dt biases and norms as the converter wrote them
(F32); the projections are quantized like any other matrix ("other" in its categories).
"""
from __future__ import annotations


def _dims(spec) -> dict[str, int]:
    return dict(spec.mixer_dims)


def mixer_tensors(spec, p: str) -> list[tuple[str, tuple[int, ...]]]:
    """The mixer tensors of one layer whose names start with `p` ('blk.L.')."""
    kind = spec.mixer
    if kind not in _LAYOUTS or not spec.mixer_dims:
        from .errors import VramkitError

        raise VramkitError(f"{spec.source or spec.model_type}: the GGUF tensors of a '{kind or 'unknown'}' mixer "
                           "are not known to vramkit")
    return _LAYOUTS[kind](spec, p)


def _mamba2(spec, p: str) -> list:
    d = _dims(spec)
    h, inner, state, groups, heads = spec.hidden_size, d["d_inner"], d["d_state"], d["n_group"], d["n_head"]
    conv = inner + 2 * groups * state
    proj = 2 * inner + 2 * groups * state + heads
    t = [(p + "ssm_in.weight", (h, proj))]
    if d["in_bias"]:
        t.append((p + "ssm_in.bias", (proj,)))
    t.append((p + "ssm_conv1d.weight", (spec.mixer_conv_kernel, conv)))
    if d["conv_bias"]:
        t.append((p + "ssm_conv1d.bias", (conv,)))
    t += [(p + "ssm_dt.bias", (heads,)), (p + "ssm_a", (1, heads)), (p + "ssm_d", (1, heads))]
    if d["norm"]:
        t.append((p + "ssm_norm.weight", (inner // groups, groups)))
    t.append((p + "ssm_out.weight", (inner, h)))
    if d["out_bias"]:
        t.append((p + "ssm_out.bias", (h,)))
    return t


def _mamba1(spec, p: str) -> list:
    d = _dims(spec)
    h, inner, state, rank = spec.hidden_size, d["d_inner"], d["d_state"], d["dt_rank"]
    t = [(p + "ssm_in.weight", (h, 2 * inner))]
    if d["proj_bias"]:
        t.append((p + "ssm_in.bias", (2 * inner,)))
    t.append((p + "ssm_conv1d.weight", (spec.mixer_conv_kernel, inner)))
    if d["conv_bias"]:
        t.append((p + "ssm_conv1d.bias", (inner,)))
    t += [(p + "ssm_x.weight", (inner, rank + 2 * state)), (p + "ssm_dt.weight", (rank, inner)),
          (p + "ssm_dt.bias", (inner,)), (p + "ssm_a", (state, inner)), (p + "ssm_d", (inner,)),
          (p + "ssm_dt_norm.weight", (rank,)), (p + "ssm_b_norm.weight", (state,)),
          (p + "ssm_c_norm.weight", (state,)), (p + "ssm_out.weight", (inner, h))]
    if d["proj_bias"]:
        t.append((p + "ssm_out.bias", (h,)))
    return t


def _gated_deltanet(spec, p: str) -> list:
    d = _dims(spec)
    h = spec.hidden_size
    k, v, vh = d["k_heads"] * d["k_dim"], d["v_heads"] * d["v_dim"], d["v_heads"]
    t = [(p + "ssm_a", (vh,)), (p + "ssm_conv1d.weight", (spec.mixer_conv_kernel, 2 * k + v)),
         (p + "ssm_dt.bias", (vh,))]
    if spec.model_type == "qwen3_next":
        t.append((p + "ssm_ba.weight", (h, 2 * vh)))
    else:  # Qwen3.5: in_proj_b and in_proj_a apart
        t += [(p + "ssm_beta.weight", (h, vh)), (p + "ssm_alpha.weight", (h, vh))]
    return t + [(p + "attn_qkv.weight", (h, 2 * k + v)), (p + "attn_gate.weight", (h, v)),
                (p + "ssm_norm.weight", (d["v_dim"],)), (p + "ssm_out.weight", (v, h))]


def _short_conv(spec, p: str) -> list:
    h, bias = spec.hidden_size, _dims(spec).get("bias", 0)
    t = [(p + "shortconv.conv.weight", (spec.mixer_conv_kernel, h)), (p + "shortconv.in_proj.weight", (h, 3 * h)),
         (p + "shortconv.out_proj.weight", (h, h))]
    if bias:
        t += [(p + "shortconv.conv.bias", (h,)), (p + "shortconv.in_proj.bias", (3 * h,)),
              (p + "shortconv.out_proj.bias", (h,))]
    return t


_LAYOUTS = {"mamba2": _mamba2, "mamba": _mamba1, "gated_deltanet": _gated_deltanet, "short_conv": _short_conv}


def not_quantized(name: str) -> bool:
    """llama-quantize's name rules for mixer tensors (tensor_allows_quantization): the conv kernels
    stay as written; A and D do not end in 'weight'; norms end in '_norm.weight'."""
    return "ssm_conv1d" in name or "shortconv.conv.weight" in name
