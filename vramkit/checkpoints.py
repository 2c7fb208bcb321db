"""Quantized checkpoints: the tensors a `quantization_config` implies, and their bytes.

A config.json with a `quantization_config` (AWQ, GPTQ, bitsandbytes, FP8, compressed-tensors,
MXFP4, HQQ, torchao) describes a checkpoint whose linear layers are stored packed, with scales,
zero points and group indices beside them, while some modules stay in the model's dtype: the
output head (every loader's default), embeddings and norms (never nn.Linear), MoE routers (most
tools), and whatever `modules_to_not_convert` / `ignore` / `llm_int8_skip_modules` name.
`checkpoint_tensors(spec, qc)` lists every tensor of that checkpoint (Hugging Face names, the
safetensors dtype, the shape); `checkpoint_bytes` adds them up. Bytes are exact against the
tensors the libraries' own code writes for tiny models (tests/reference/quantized.json, with the
library versions), except two metadata tensors whose length depends on data: bitsandbytes'
double-quant `quant_state` JSON (the printed digits of one float offset; estimated to a few bytes).

Module selection follows transformers' `should_convert_module` (prefix, regex or suffix match) and
compressed-tensors' `ignore` ("re:" regexes or exact names). Per scheme, per linear of out x in:

- AWQ GEMM: qweight int32 [in, out/8], qzeros int32 [in/g, out/8], scales fp16 [in/g, out]
  (GEMV: [out, in/8], [out, ceil(G/8)], [out, 8 ceil(G/8)]); bias fp16.
- GPTQ: qweight int32 [in*b/32, out], qzeros int32 [G, out*b/32], scales fp16 [G, out], g_idx
  int32 [in] (G = in/g, 1 for g = -1); bias fp16; lm_head quantized only with "lm_head": true.
- bitsandbytes 4-bit: packed uint8 [ceil(n/2), 1], absmax per 64 (fp32; uint8 with double quant,
  plus fp32 per 256 absmax and a 256-entry map), a 16-entry map, the quant_state JSON. 8-bit: int8
  [out, in], SCB fp32 [out], weight_format uint8 []. transformers 5 builds MoE experts as fused 3-D
  parameters, not nn.Linear, so bitsandbytes (and HQQ, torchao) leave experts and routers unquantized.
- FP8 (transformers "fp8", DeepSeek style): fp8 [out, in] + fp32 scale_inv per 128x128 block.
  fbgemm_fp8 (Meta's Llama 3.1 FP8): fp8 [out, in] + fp32 scale per row [out, 1].
- compressed-tensors: per config group, by format: pack-quantized (int32-packed codes, scales
  per group/channel in the model dtype, int32-packed zero points when asymmetric, an int64 shape),
  int-quantized / float-quantized (int8 / fp8 codes, scale per tensor, channel, group or block),
  nvfp4-pack-quantized (uint8 codes, fp8 scale per 16, fp32 global scales), mxfp4-pack-quantized
  (uint8 codes, uint8 e8m0 scale per 32); static input activations add an input scale.
- MXFP4 (gpt-oss): experts as *_blocks uint8 [E, out, in/32, 16] and *_scales uint8 [E, out, in/32];
  attention, router, embeddings and head in bf16.
- HQQ: W_q uint8 [n*b/8] codes, scale and zero in the compute dtype per group, 69-ish bytes of meta.
- torchao Int8WeightOnly: int8 [out, in], fp32 scale and int8 zero point per row.
- optimum-quanto: int8 / fp8 codes [out, in] with a scale per row, or int4 codes packed two per byte
  with a scale and a shift per 128; plus a scalar input and output scale per linear.

What an engine holds can differ from the file: transformers without triton kernels dequantizes
gpt-oss's MXFP4 experts to bf16 at load (the warning "We will default to dequantizing the model to
bf16"), while vLLM keeps them in MXFP4; `loaded_bytes(spec, qc, engine)` gives both.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

from .errors import VramkitError, unknown
from .model import ModelSpec
from .record import record

# safetensors dtype names and their widths in bytes.
WIDTH = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
         "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1}
# torch dtype names in configs -> safetensors names.
_ST = {"bfloat16": "BF16", "float16": "F16", "float32": "F32", "half": "F16", "float": "F32", "bf16": "BF16",
       "fp16": "F16", "fp32": "F32", "auto": "BF16"}
METHODS = ("awq", "gptq", "bitsandbytes", "fp8", "fbgemm_fp8", "compressed-tensors", "mxfp4", "hqq", "torchao", "quanto")
QUANTO_GROUP = 128  # optimum-quanto: weights per scale and shift of its 4-bit (and 2-bit) weights
BNB_BLOCK = 64          # bitsandbytes 4-bit: weights per absmax (Params4bit's default blocksize)
BNB_NESTED_BLOCK = 256  # double quantization: absmax values per fp32 scale
# Characters of Python's repr of the float32 offset in bitsandbytes' double-quant JSON (e.g.
# 0.008423209190368652): the only part of a checkpoint here whose size depends on the data.
BNB_OFFSET_REPR = 20


@record
class Tensor:
    """One checkpoint tensor: Hugging Face name, safetensors dtype, shape; `kind` says what it holds."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    kind: str = "weight"       # "weight" (quantized codes), "scale", "zero", "index", "meta", "unquantized"

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * WIDTH[self.dtype]


@record
class _Module:
    name: str                 # module path, e.g. model.layers.3.self_attn.q_proj
    out: int
    inp: int
    bias: bool
    role: str                 # "attention", "mlp", "expert", "router", "head"
    experts: int = 0          # > 0: a fused 3-D expert tensor [E, ...] (gpt-oss)


# ---- the model's modules, with Hugging Face names ---------------------------------------------

_NORMS = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm")

def _layout(spec: ModelSpec) -> tuple[list[_Module], list[tuple[str, tuple[int, ...]]]]:
    """(linear modules, other parameters) of `spec` as its checkpoint names them.

    MoE experts are listed one linear per expert (how AWQ, GPTQ, FP8 and compressed-tensors
    checkpoints store them) except gpt-oss, whose checkpoint holds fused [E, ...] tensors.
    """
    h, v = spec.hidden_size, spec.vocab_size
    lin: list[_Module] = []
    other: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (v, h))]
    if spec.learned_positions:
        other.append(("model.embed_positions.weight", (spec.learned_positions, h)))
    norm = [("weight", (h,))] + ([("bias", (h,))] if spec.norm_bias else [])
    moe_names = {"mixtral": ("block_sparse_moe", "gate", ("w1", "w3", "w2"))}
    block, router, (g_name, u_name, d_name) = moe_names.get(spec.model_type, ("mlp", "gate", ("gate_proj", "up_proj", "down_proj")))
    for L in range(spec.num_layers):
        p = f"model.layers.{L}."
        for norm_name in _NORMS[:spec.norms_per_layer]:
            other += [(f"{p}{norm_name}.{k}", s) for k, s in norm]
        a = p + "self_attn."
        if spec.is_mla:
            nh, qk = spec.num_heads, spec.head_dim
            if spec.q_lora_rank:
                lin += [_Module(a + "q_a_proj", spec.q_lora_rank, h, spec.qkv_bias, "attention"),
                        _Module(a + "q_b_proj", nh * qk, spec.q_lora_rank, False, "attention")]
                other.append((a + "q_a_layernorm.weight", (spec.q_lora_rank,)))
            else:
                lin.append(_Module(a + "q_proj", nh * qk, h, False, "attention"))
            lin += [_Module(a + "kv_a_proj_with_mqa", spec.kv_lora_rank + spec.qk_rope_head_dim, h, spec.qkv_bias, "attention"),
                    _Module(a + "kv_b_proj", nh * (qk - spec.qk_rope_head_dim + spec.value_head_dim), spec.kv_lora_rank,
                            False, "attention"),
                    _Module(a + "o_proj", h, nh * spec.value_head_dim, spec.o_bias, "attention")]
            other.append((a + "kv_a_layernorm.weight", (spec.kv_lora_rank,)))
        else:
            q, kv = spec.q_dim, spec.kv_dim
            if spec.model_type == "phi3":
                lin.append(_Module(a + "qkv_proj", q + 2 * kv, h, spec.qkv_bias, "attention"))
            else:
                lin += [_Module(a + "q_proj", q, h, spec.qkv_bias, "attention"),
                        _Module(a + "k_proj", kv, h, spec.qkv_bias, "attention"),
                        _Module(a + "v_proj", kv, h, spec.qkv_bias, "attention")]
            lin.append(_Module(a + "o_proj", h, q, spec.o_bias, "attention"))
            if spec.qk_norm == "head":
                other += [(a + "q_norm.weight", (spec.head_dim,)), (a + "k_norm.weight", (spec.head_dim,))]
            elif spec.qk_norm == "proj":
                other += [(a + "q_norm.weight", (q,)), (a + "k_norm.weight", (kv,))]
            if spec.sinks:
                other.append((a + "sinks", (spec.num_heads,)))
        m = p + block + "."
        if spec.moe_layers and spec.moe_layers[L] and spec.num_experts:
            e, w = spec.num_experts, spec.moe_intermediate_size
            if spec.model_type == "gpt_oss":
                lin += [_Module(m + "router", e, h, spec.router_bias, "router"),
                        _Module(m + "experts.gate_up_proj", 2 * w, h, spec.expert_bias, "expert", e),
                        _Module(m + "experts.down_proj", h, w, spec.expert_bias, "expert", e)]
            else:
                lin.append(_Module(m + router, e, h, False, "router"))
                if spec.router_bias:  # DeepSeek-V3's e_score_correction_bias
                    other.append((m + router + ".e_score_correction_bias", (e,)))
                for j in range(e):
                    lin += _mlp(spec, f"{m}experts.{j}.", w, (g_name, u_name, d_name), "expert")
            if spec.shared_expert_size:
                name = "shared_expert." if spec.model_type == "qwen2_moe" else "shared_experts."
                lin += _mlp(spec, m + name, spec.shared_expert_size, ("gate_proj", "up_proj", "down_proj"), "mlp")
                if spec.shared_expert_gate:
                    lin.append(_Module(m + "shared_expert_gate", 1, h, False, "router"))
        else:
            lin += _mlp(spec, m, spec.intermediate_size, ("gate_proj", "up_proj", "down_proj"), "mlp")
    other += [("model.norm." + k, s) for k, s in norm]
    if not spec.tie_word_embeddings:
        lin.append(_Module("lm_head", v, h, False, "head"))
    return lin, other


def _mlp(spec: ModelSpec, p: str, width: int, names, role: str) -> list[_Module]:
    h, (g, u, d) = spec.hidden_size, names
    if not spec.mlp_gated:
        return [_Module(p + u, width, h, spec.mlp_bias, role), _Module(p + d, h, width, spec.mlp_bias, role)]
    if spec.model_type == "phi3":
        return [_Module(p + "gate_up_proj", 2 * width, h, spec.mlp_bias, role),
                _Module(p + d, h, width, spec.mlp_bias, role)]
    return [_Module(p + g, width, h, spec.mlp_bias, role), _Module(p + u, width, h, spec.mlp_bias, role),
            _Module(p + d, h, width, spec.mlp_bias, role)]


def _elements(m: _Module) -> int:
    return max(m.experts, 1) * (m.out * m.inp + (m.out if m.bias else 0))


# ---- module selection ---------------------------------------------------------------------------

def _skipped_by(name: str, patterns) -> bool:
    """transformers' should_convert_module: a prefix up to a module boundary, a regex, or a suffix."""
    boundary = r"(?:(?<=\.)|(?=\.|$))"
    return any(re.match(rf"(?:{key}){boundary}", name) or name.endswith(key) for key in patterns or ())


def _ct_matches(name: str, targets) -> bool:
    """compressed-tensors' ignore/targets: 're:' regexes (re.match) or exact module names."""
    for t in targets or ():
        if t.startswith("re:"):
            if re.match(t[3:], name):
                return True
        elif t == name:
            return True
    return False


# ---- per-scheme tensors -------------------------------------------------------------------------

def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _plain(m: _Module, dtype: str) -> list[Tensor]:
    if m.experts:  # gpt-oss's fused bf16 experts: [E, in, out] and a bias [E, out]
        t = [Tensor(m.name, dtype, (m.experts, m.inp, m.out), "unquantized")]
        return t + ([Tensor(m.name + "_bias", dtype, (m.experts, m.out), "unquantized")] if m.bias else [])
    t = [Tensor(m.name + ".weight", dtype, (m.out, m.inp), "unquantized")]
    return t + ([Tensor(m.name + ".bias", dtype, (m.out,), "unquantized")] if m.bias else [])


def _bias(m: _Module, dtype: str) -> list[Tensor]:
    return [Tensor(m.name + ".bias", dtype, (m.out,), "unquantized")] if m.bias else []


def _awq(m: _Module, qc: Mapping) -> list[Tensor]:
    bits, g = int(qc.get("bits", qc.get("w_bit", 4))), int(qc.get("group_size", qc.get("q_group_size", 128)))
    version = str(qc.get("version", "gemm")).lower()
    if bits != 4:
        raise VramkitError(f"quantization_config: AWQ with bits={bits} is not modelled (AWQ packs 4-bit codes)")
    pack = 32 // bits
    groups = m.inp // g if g > 0 else 1
    if version == "gemm":
        t = [Tensor(m.name + ".qweight", "I32", (m.inp, m.out // pack)),
             Tensor(m.name + ".qzeros", "I32", (groups, m.out // pack), "zero"),
             Tensor(m.name + ".scales", "F16", (groups, m.out), "scale")]
    elif version == "gemv":
        t = [Tensor(m.name + ".qweight", "I32", (m.out, m.inp // pack)),
             Tensor(m.name + ".qzeros", "I32", (m.out, _ceil(groups, pack)), "zero"),
             Tensor(m.name + ".scales", "F16", (m.out, _ceil(groups, pack) * pack), "scale")]
    else:
        raise unknown("AWQ version", version, ("gemm", "gemv"))
    return t + _bias(m, "F16")


def _gptq(m: _Module, qc: Mapping) -> list[Tensor]:
    bits, g = int(qc.get("bits", 4)), int(qc.get("group_size", 128))
    if bits not in (2, 3, 4, 8):
        raise VramkitError(f"quantization_config: field 'bits' must be 2, 3, 4 or 8 for GPTQ, got {bits}")
    groups = _ceil(m.inp, g) if g > 0 else 1
    return [Tensor(m.name + ".qweight", "I32", (m.inp * bits // 32, m.out)),
            Tensor(m.name + ".qzeros", "I32", (groups, m.out * bits // 32), "zero"),
            Tensor(m.name + ".scales", "F16", (groups, m.out), "scale"),
            Tensor(m.name + ".g_idx", "I32", (m.inp,), "index")] + _bias(m, "F16")


def _bnb(m: _Module, qc: Mapping, dtype: str) -> list[Tensor]:
    w = m.name + ".weight"
    if qc.get("load_in_8bit"):
        return [Tensor(w, "I8", (m.out, m.inp)), Tensor(m.name + ".SCB", "F32", (m.out,), "scale"),
                Tensor(m.name + ".weight_format", "U8", (), "meta")] + _bias(m, dtype)
    n = m.out * m.inp
    blocks = _ceil(n, BNB_BLOCK)
    quant_type = qc.get("bnb_4bit_quant_type", "fp4")
    storage = _ST.get(str(qc.get("bnb_4bit_quant_storage", "uint8")).removeprefix("torch."), "U8")
    packed = _ceil(n, 2 * WIDTH.get(storage, 1))
    t = [Tensor(w, storage if storage != "BF16" else "BF16", (packed, 1))]
    state = {"quant_type": quant_type, "blocksize": BNB_BLOCK,
             "dtype": _TORCH[dtype], "shape": [m.out, m.inp]}  # the dtype the weight had before packing
    if qc.get("bnb_4bit_use_double_quant"):
        t += [Tensor(w + ".absmax", "U8", (blocks,), "scale"),
              Tensor(w + ".nested_absmax", "F32", (_ceil(blocks, BNB_NESTED_BLOCK),), "scale"),
              Tensor(w + ".nested_quant_map", "F32", (256,), "meta")]
        state.update(nested_blocksize=BNB_NESTED_BLOCK, nested_dtype="float32", nested_offset=0.0)
    else:
        t.append(Tensor(w + ".absmax", "F32", (blocks,), "scale"))
    text = json.dumps(state)
    if "nested_offset" in state:  # the offset's printed digits depend on the weights
        text = text.replace("0.0}", "0" * BNB_OFFSET_REPR + "}")
    t += [Tensor(w + ".quant_map", "F32", (16,), "meta"),
          Tensor(w + f".quant_state.bitsandbytes__{quant_type}", "U8", (len(text.encode()),), "meta")]
    return t + _bias(m, dtype)


_TORCH = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}


def _fp8(m: _Module, qc: Mapping, dtype: str) -> list[Tensor]:
    block = qc.get("weight_block_size") or (128, 128)
    if m.experts:
        e = (m.experts,)
        return [Tensor(m.name, "F8_E4M3", e + (m.out, m.inp)),
                Tensor(m.name + "_scale_inv", "F32", e + (_ceil(m.out, block[0]), _ceil(m.inp, block[1])), "scale")] + (
            [Tensor(m.name + "_bias", dtype, e + (m.out,), "unquantized")] if m.bias else [])
    t = [Tensor(m.name + ".weight", "F8_E4M3", (m.out, m.inp)),
         Tensor(m.name + ".weight_scale_inv", "F32", (_ceil(m.out, block[0]), _ceil(m.inp, block[1])), "scale")]
    if qc.get("activation_scheme") == "static":
        t.append(Tensor(m.name + ".activation_scale", "F32", (1,), "scale"))
    return t + _bias(m, dtype)


def _fbgemm(m: _Module, qc: Mapping, dtype: str) -> list[Tensor]:
    return [Tensor(m.name + ".weight", "F8_E4M3", (m.out, m.inp)),
            Tensor(m.name + ".weight_scale", "F32", (m.out, 1), "scale")] + _bias(m, "F32")


def _mxfp4(m: _Module, dtype: str) -> list[Tensor]:
    e, blocks = max(m.experts, 1), m.inp // 32
    t = [Tensor(m.name + "_blocks", "U8", (e, m.out, blocks, 16)),
         Tensor(m.name + "_scales", "U8", (e, m.out, blocks), "scale")]
    return t + ([Tensor(m.name + "_bias", dtype, (e, m.out), "unquantized")] if m.bias else [])


def _hqq(m: _Module, qc: Mapping, dtype: str) -> list[Tensor]:
    params = (qc.get("quant_config") or {}).get("weight_quant_params") or qc
    bits, g = int(params.get("nbits", 4)), int(params.get("group_size", 64))
    if bits not in (1, 2, 4, 8):
        raise VramkitError(f"quantization_config: HQQ nbits={bits} is not modelled (3-bit packs into int32)")
    n = m.out * m.inp
    compute = {"BF16": "torch.bfloat16", "F16": "torch.float16", "F32": "torch.float32"}[dtype]
    p = m.name + "."
    # HQQLinear.state_dict's meta: three int32 scalars, the int64 shape, the packing and dtype names
    # as uint8 strings, nine uint8 flags.
    meta = [Tensor(p + k, "I32", (), "meta") for k in ("axis", "group_size", "nbits")] + [
        Tensor(p + "shape", "I64", (2,), "meta"), Tensor(p + "packing", "U8", (len(f"{bits}bit_u8"),), "meta"),
        Tensor(p + "unpack_view_dtype", "U8", (len("torch.uint8"),), "meta"),
        Tensor(p + "compute_dtype", "U8", (len(compute),), "meta")] + [
        Tensor(p + k, "U8", (), "meta") for k in ("channel_wise", "encoded_state_dict", "offload_meta", "optimize",
                                                  "quant_scale", "quant_zero", "round_zero", "stores_quant_config",
                                                  "view_as_float")]
    return [Tensor(p + "W_q", "U8", (n // g * bits // 8, g)),  # codes of each group packed down its column
            Tensor(p + "scale", dtype, (n // g, 1), "scale"), Tensor(p + "zero", dtype, (n // g, 1), "zero")] + meta + _bias(m, dtype)


def _torchao(m: _Module, qc: Mapping, dtype: str) -> list[Tensor]:
    kind = ((qc.get("quant_type") or {}).get("default") or {}).get("_type", qc.get("quant_type"))
    if kind not in ("Int8WeightOnlyConfig", "int8_weight_only"):
        raise VramkitError(f"quantization_config: torchao quant_type {kind!r} is not modelled "
                           "(Int8WeightOnlyConfig is; int4 layouts depend on the kernel)")
    return [Tensor(m.name + ".weight.qdata", "I8", (m.out, m.inp)),
            Tensor(m.name + ".weight.scale", "F32", (m.out, 1), "scale"),
            Tensor(m.name + ".weight.zero_point", "I8", (m.out, 1), "zero")] + _bias(m, dtype)


def _quanto(m: _Module, qc: Mapping, dtype: str) -> list[Tensor]:
    """optimum-quanto's QLinear after freeze(): codes, scales (and shifts for int4), two activation scales."""
    w, p = str(qc.get("weights", "int8")), m.name + "."
    t = [Tensor(p + "input_scale", dtype, (), "scale"), Tensor(p + "output_scale", dtype, (), "scale")]
    if w in ("int8", "float8"):
        t += [Tensor(p + "weight._data", "I8" if w == "int8" else "F8_E4M3", (m.out, m.inp)),
              Tensor(p + "weight._scale", dtype, (m.out, 1), "scale")]
    elif w == "int4":
        groups = m.out * m.inp // QUANTO_GROUP
        # codes grouped [n/128, 128], then two rows packed into one byte
        t += [Tensor(p + "weight._data._data", "U8", (groups // 2, QUANTO_GROUP)),
              Tensor(p + "weight._scale", dtype, (groups, 1), "scale"), Tensor(p + "weight._shift", dtype, (groups, 1), "zero")]
    else:
        raise unknown("quanto weights", w, ("int8", "int4", "float8"))
    return t + _bias(m, dtype)


def _ct_group(qc: Mapping, name: str):
    """The compressed-tensors config group whose targets cover linear `name` (None: not quantized)."""
    if _ct_matches(name, qc.get("ignore")):
        return None
    for group in (qc.get("config_groups") or {}).values():
        targets = group.get("targets") or ["Linear"]
        if "Linear" in targets or _ct_matches(name, targets):
            return group
    return None


def _compressed(m: _Module, qc: Mapping, group: Mapping, dtype: str) -> list[Tensor]:
    w = group.get("weights") or {}
    fmt = group.get("format") or qc.get("format") or "naive-quantized"
    bits, strategy = int(w.get("num_bits", 8)), w.get("strategy", "tensor")
    g = w.get("group_size")
    p = m.name + "."
    sdt = _ST.get(str(w.get("scale_dtype") or "").removeprefix("torch."), dtype)
    if strategy in ("group", "tensor_group"):
        scale_shape = (m.out, _ceil(m.inp, int(g)))
    elif strategy == "channel":
        scale_shape = (m.out, 1)
    elif strategy == "block":
        b = w.get("block_structure") or [128, 128]
        scale_shape = (_ceil(m.out, b[0]), _ceil(m.inp, b[1]))
    else:
        scale_shape = (1,)
    acts = group.get("input_activations")
    t: list[Tensor] = []
    if fmt == "pack-quantized":
        t += [Tensor(p + "weight_packed", "I32", (m.out, _ceil(m.inp * bits, 32))),
              Tensor(p + "weight_scale", sdt, scale_shape, "scale"), Tensor(p + "weight_shape", "I64", (2,), "meta")]
        if not w.get("symmetric", True):
            t.append(Tensor(p + "weight_zero_point", "I32", (_ceil(m.out * bits, 32), scale_shape[-1]), "zero"))
    elif fmt in ("nvfp4-pack-quantized", "mxfp4-pack-quantized"):
        nv = fmt.startswith("nv")
        t += [Tensor(p + "weight_packed", "U8", (m.out, m.inp // 2)),
              Tensor(p + "weight_scale", "F8_E4M3" if nv else "U8", (m.out, m.inp // int(g or (16 if nv else 32))), "scale")]
        if nv:
            t.append(Tensor(p + "weight_global_scale", "F32", (1,), "scale"))
            if acts:
                t.append(Tensor(p + "input_global_scale", "F32", (1,), "scale"))
        acts = None
    elif fmt in ("int-quantized", "float-quantized", "naive-quantized"):
        code = "F8_E4M3" if w.get("type") == "float" else "I8"
        t += [Tensor(p + "weight", code, (m.out, m.inp)), Tensor(p + "weight_scale", sdt, scale_shape, "scale")]
        if not w.get("symmetric", True):
            t.append(Tensor(p + "weight_zero_point", code, scale_shape, "zero"))
    else:
        raise unknown("compressed-tensors format", fmt, ("pack-quantized", "int-quantized", "float-quantized",
                                                         "naive-quantized", "nvfp4-pack-quantized", "mxfp4-pack-quantized"))
    if acts and not acts.get("dynamic", False):
        t.append(Tensor(p + "input_scale", sdt, (1,), "scale"))
    return t + _bias(m, dtype)


# ---- the checkpoint ----------------------------------------------------------------------------

def method(qc: Mapping) -> str:
    """The `quant_method` of a quantization_config, checked."""
    name = str(qc.get("quant_method", "")).lower().replace("_", "-") if qc else ""
    name = {"fbgemm-fp8": "fbgemm_fp8", "compressed_tensors": "compressed-tensors"}.get(name, name)
    if name not in METHODS:
        raise VramkitError(f"quantization_config: {unknown('quant_method', qc.get('quant_method') if qc else None, METHODS)}")
    return name


def scheme(qc: Mapping) -> str:
    """A short name for a quantization_config: 'awq-w4-g128', 'gptq-w3-g128', 'bnb-nf4-dq', 'fp8-block128x128', ..."""
    how = method(qc)
    if how in ("awq", "gptq"):
        return f"{how}-w{qc.get('bits', qc.get('w_bit', 4))}-g{qc.get('group_size', qc.get('q_group_size', 128))}"
    if how == "bitsandbytes":
        if qc.get("load_in_8bit"):
            return "bnb-int8"
        return f"bnb-{qc.get('bnb_4bit_quant_type', 'fp4')}" + ("-dq" if qc.get("bnb_4bit_use_double_quant") else "")
    if how == "fp8":
        b = qc.get("weight_block_size") or (128, 128)
        return f"fp8-block{b[0]}x{b[1]}"
    if how == "compressed-tensors":
        groups = [g.get("format") or qc.get("format") for g in (qc.get("config_groups") or {}).values()]
        return "compressed-tensors:" + "+".join(sorted({str(g) for g in groups}))
    if how == "quanto":
        return f"quanto-{qc.get('weights', 'int8')}"
    if how == "hqq":
        p = (qc.get("quant_config") or {}).get("weight_quant_params") or qc
        return f"hqq-w{p.get('nbits', 4)}-g{p.get('group_size', 64)}"
    return how.replace("_", "-")


def _dtype(spec: ModelSpec, qc: Mapping, default: str | None) -> str:
    name = default or getattr(spec, "torch_dtype", None) or "bfloat16"
    out = _ST.get(str(name).removeprefix("torch.").lower())
    if out is None:
        raise unknown("dtype", name, sorted(_ST))
    return out


def checkpoint_tensors(spec: ModelSpec, qc: Mapping | None = None, dtype: str | None = None) -> list[Tensor]:
    """Every tensor of `spec`'s checkpoint quantized as `qc` says (default: `spec.quantization`).

    `dtype` is the model's dtype for what stays unquantized (default: the config's torch_dtype,
    else bf16). Parameters the layout does not name (an architecture's extra tensors) come as one
    unquantized "other" tensor, so the elements always add up to `spec.params()`.
    """
    qc = qc if qc is not None else getattr(spec, "quantization", None)
    if not qc:
        raise VramkitError(f"{spec.source or 'config'}: no quantization_config")
    how = method(qc)
    dt = _dtype(spec, qc, dtype)
    lin, other = _layout(spec)
    out = [Tensor(n, dt, s, "unquantized") for n, s in other]
    default_skip = ["lm_head"]
    for m in lin:
        t = _tensors(how, m, qc, dt, default_skip)
        out += t if t is not None else _plain(m, dt)
    counted = sum(_elements(m) for m in lin) + sum(math.prod(s) for _, s in other)
    if counted != spec.params():  # an architecture whose extra tensors the layout does not name
        out.append(Tensor("other", dt, (spec.params() - counted,), "unquantized"))
    return out


def _tensors(how: str, m: _Module, qc: Mapping, dt: str, default_skip) -> list[Tensor] | None:
    """The quantized tensors of linear `m`, or None where the scheme leaves it in the model dtype."""
    skip = qc.get("modules_to_not_convert")
    if how == "mxfp4":
        return _mxfp4(m, dt) if m.role == "expert" and not _skipped_by(m.name, skip) else None
    if m.experts and how not in ("fp8", "compressed-tensors"):
        return None  # fused 3-D experts are no nn.Linear
    if how == "compressed-tensors":
        group = _ct_group(qc, m.name)
        return None if group is None else _compressed(m, qc, group, dt)
    if how == "gptq":
        if m.role == "router" or (m.role == "head" and not qc.get("lm_head")) or _skipped_by(m.name, skip):
            return None
        return _gptq(m, qc)
    if how == "awq":
        if m.role in ("router", "head") or _skipped_by(m.name, skip):
            return None
        return _awq(m, qc)
    if how == "bitsandbytes":
        skip = qc.get("llm_int8_skip_modules")
        # transformers 5 builds MoE experts as fused parameters and routers as their own modules:
        # neither is an nn.Linear, so bitsandbytes leaves both (tests/reference/quantized.json).
        if m.role in ("expert", "router") or _skipped_by(m.name, default_skip if skip is None else skip):
            return None
        return _bnb(m, qc, dt)
    if how == "quanto":  # optimum-quanto swaps every nn.Linear but the excluded ones
        if m.role in ("expert", "router") or _skipped_by(m.name, default_skip if skip is None else skip):
            return None
        return _quanto(m, qc, dt)
    if how in ("hqq", "torchao"):
        skip = qc.get("skip_modules") if how == "hqq" else skip
        if m.role in ("expert", "router") or _skipped_by(m.name, default_skip if skip is None else skip):
            return None
        return _hqq(m, qc, dt) if how == "hqq" else _torchao(m, qc, dt)
    # fp8 / fbgemm_fp8: transformers' default skip is the head; routers are no nn.Linear there.
    if m.role == "router" or _skipped_by(m.name, default_skip if skip is None else skip):
        return None
    return _fp8(m, qc, dt) if how == "fp8" else _fbgemm(m, qc, dt)


def checkpoint_bytes(spec: ModelSpec, qc: Mapping | None = None, dtype: str | None = None) -> int:
    """Bytes of every tensor of the quantized checkpoint (what the safetensors files hold, headers aside)."""
    return sum(t.nbytes for t in checkpoint_tensors(spec, qc, dtype))


def bytes_by_kind(tensors) -> dict[str, int]:
    """Bytes of quantized codes ("weight"), "scale", "zero", "index", "meta" and "unquantized" tensors."""
    out: dict[str, int] = {}
    for t in tensors:
        out[t.kind] = out.get(t.kind, 0) + t.nbytes
    return out


def bytes_by_dtype(tensors) -> dict[str, int]:
    """Bytes per safetensors dtype (e.g. gpt-oss: U8 MXFP4 experts beside BF16 attention)."""
    out: dict[str, int] = {}
    for t in tensors:
        out[t.dtype] = out.get(t.dtype, 0) + t.nbytes
    return out


# Engines that keep gpt-oss's MXFP4 experts packed; transformers does only with triton kernels.
MXFP4_NATIVE_ENGINES = ("vllm", "llama.cpp", "sglang", "transformers+kernels")


def loaded_bytes(spec: ModelSpec, qc: Mapping | None = None, engine: str = "transformers",
                 dtype: str | None = None) -> int:
    """Weight bytes an engine holds after loading the checkpoint.

    Equal to `checkpoint_bytes` except for MXFP4 in transformers without triton kernels (the
    "transformers" engine here: a CPU or a GPU without triton >= 3.4 and `kernels`): the experts are
    dequantized to bf16 at load. "transformers+kernels", vLLM, llama.cpp and SGLang keep them in MXFP4
    (any other engine name, MLX included, is priced as dequantized: not checked). Metadata tensors
    (bitsandbytes' JSON quant state, HQQ's flags) are counted as the file holds them.
    """
    qc = qc if qc is not None else getattr(spec, "quantization", None)
    tensors = checkpoint_tensors(spec, qc, dtype)
    if method(qc) != "mxfp4" or engine in MXFP4_NATIVE_ENGINES:
        return sum(t.nbytes for t in tensors)
    lin, _ = _layout(spec)
    experts = [m for m in lin if m.role == "expert" and not _skipped_by(m.name, qc.get("modules_to_not_convert"))]
    packed = sum(t.nbytes for t in tensors if t.name.endswith(("_blocks", "_scales")))
    bf16 = sum(max(m.experts, 1) * m.out * m.inp * WIDTH["BF16"] for m in experts)
    return sum(t.nbytes for t in tensors) - packed + bf16
