"""Write tests/reference/quantized.json: the tensors real quantization libraries write for tiny models.

For each case a tiny model is built with transformers and quantized by the library's own code on
the CPU; the tensors of the result are read back (name, dtype, shape, bytes) and recorded with the
model config and the `quantization_config` that a checkpoint of it carries. vramkit's
`checkpoints.checkpoint_tensors` must give the same bytes per tensor kind and in total
(tests/test_checkpoints.py).

How each library is run (all on the CPU):
- bitsandbytes: `from_pretrained(..., quantization_config=BitsAndBytesConfig(...))` then
  `save_pretrained`, the safetensors header read back (what transformers really writes).
- compressed-tensors: `apply_quantization_config` + `ModelCompressor.compress_model` +
  `save_pretrained` (llm-compressor's save path without calibration data).
- AWQ (autoawq's WQLinear_GEMM / WQLinear_GEMV) and GPTQ (gptqmodel's TorchLinear): the packed
  modules' own buffers, built for every nn.Linear transformers' AWQ/GPTQ loaders convert; packing
  needs no GPU, calibration does (so the values are zeros; only shapes and dtypes are recorded).
- FP8: transformers' `replace_with_fp8_linear` (fine-grained, DeepSeek-style 128x128 blocks) and
  `replace_with_fbgemm_fp8_linear` (Meta's per-row FP8, with a `modules_to_not_convert` shaped like
  Meta-Llama-3.1-405B-FP8's: first and last layers and every self_attn kept in bf16).
- MXFP4 (gpt-oss): transformers' `Mxfp4GptOssExperts` and the quantizer's `serialized_names`
  (`*_blocks` [E, out, in/32, 16] and `*_scales` [E, out, in/32], uint8). Writing an MXFP4 checkpoint
  needs triton kernels; so the checkpoint is written from those shapes and then loaded back with
  `from_pretrained` on the CPU, where transformers (no kernels) dequantizes the experts to bf16:
  the loaded model's parameter bytes are recorded as `loaded_without_kernels`.
- HQQ (`HQQLinear`) and torchao (`Int8WeightOnlyConfig`): the quantized module's state.
- optimum-quanto (qint8, qint4, qfloat8 weights): `quantize` + `freeze` + `save_pretrained`.

Run with the reference environment (torch, transformers, the libraries above; see README.md):
    python tests/reference/generate_quantized.py
Top-level imports of autoawq/gptqmodel that packing never uses (datasets, pcre, PIL, ...) are
stubbed by _import_stubs.py so that they install without their heavy extras.
"""
from __future__ import annotations

import importlib.metadata as md
import json
import re
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _import_stubs  # noqa: E402,F401

import transformers  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

warnings.filterwarnings("ignore")
transformers.logging.set_verbosity_error()
OUT = Path(__file__).resolve().parent / "quantized.json"

LLAMA = dict(model_type="llama", hidden_size=256, intermediate_size=512, num_hidden_layers=3,
             num_attention_heads=4, num_key_value_heads=2, vocab_size=1024, tie_word_embeddings=False)
LLAMA_BIAS = dict(LLAMA, attention_bias=True, mlp_bias=True)
QWEN3_MOE = dict(model_type="qwen3_moe", hidden_size=256, intermediate_size=512, moe_intermediate_size=128,
                 num_experts=4, num_experts_per_tok=2, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=64, vocab_size=1024, tie_word_embeddings=False)
GPT_OSS = dict(model_type="gpt_oss", hidden_size=256, intermediate_size=256, num_local_experts=4,
               num_experts_per_tok=2, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
               head_dim=64, vocab_size=1024, sliding_window=8, layer_types=["sliding_attention", "full_attention"])
DTYPE = torch.bfloat16


def build(cfg: dict):
    config = transformers.AutoConfig.for_model(**cfg)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, dtype=DTYPE)


def header(folder: str) -> dict:
    out = {}
    for f in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(f), "pt") as st:
            for k in st.keys():
                sl = st.get_slice(k)
                out[k] = [sl.get_dtype(), list(sl.get_shape())]
    return out


_WIDTH = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
          "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1}


def with_bytes(tensors: dict) -> dict:
    out = {}
    for k, (dtype, shape) in sorted(tensors.items()):
        n = 1
        for d in shape:
            n *= d
        out[k] = [dtype, shape, n * _WIDTH[dtype]]
    return out


def state_header(sd: dict) -> dict:
    """Save a state dict as safetensors and read its header back (the bytes a checkpoint holds)."""
    with tempfile.TemporaryDirectory() as d:
        save_file({k: v.contiguous() for k, v in sd.items() if isinstance(v, torch.Tensor)}, d + "/model.safetensors")
        return header(d)


def saved(model) -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d)
        return header(d), json.loads(Path(d, "config.json").read_text()).get("quantization_config")


def linears(model, skip):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and not skip(n)]


def swap(model, name, new):
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, new)


# ---- cases -------------------------------------------------------------------------------------

def bnb_cases():
    from transformers import BitsAndBytesConfig

    variants = {
        "bnb_nf4_dq": dict(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                           bnb_4bit_compute_dtype=DTYPE),
        "bnb_fp4": dict(load_in_4bit=True, bnb_4bit_quant_type="fp4", bnb_4bit_compute_dtype=DTYPE),
        "bnb_nf4_skip_down": dict(load_in_4bit=True, bnb_4bit_quant_type="nf4", llm_int8_skip_modules=["down_proj", "lm_head"]),
        "bnb_int8": dict(load_in_8bit=True),
    }
    for arch_name, cfg in (("llama", LLAMA), ("qwen3_moe", QWEN3_MOE)):
        with tempfile.TemporaryDirectory() as src:
            build(cfg).save_pretrained(src)
            for name, kw in variants.items():
                if arch_name == "qwen3_moe" and name not in ("bnb_nf4_dq", "bnb_int8"):
                    continue
                q = AutoModelForCausalLM.from_pretrained(src, quantization_config=BitsAndBytesConfig(**kw),
                                                         device_map="cpu", dtype=DTYPE)
                tensors, qc = saved(q)
                yield f"{name}_{arch_name}", "bitsandbytes", cfg, qc, tensors


def compressed_tensors_cases():
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import QuantizationConfig, apply_quantization_config
    from compressed_tensors.quantization.quant_scheme import preset_name_to_scheme

    for preset in ("W4A16", "W4A16_ASYM", "W8A16", "W8A8", "FP8", "FP8_DYNAMIC", "FP8_BLOCK", "NVFP4", "NVFP4A16",
                   "MXFP4"):
        for arch_name, cfg, ignore in (("llama", LLAMA, ["lm_head"]), ("llama_bias", LLAMA_BIAS,
                                                                      ["lm_head", "re:.*self_attn.o_proj$"])):
            if arch_name == "llama_bias" and preset not in ("W4A16_ASYM", "FP8_DYNAMIC", "NVFP4"):
                continue
            m = build(cfg)
            apply_quantization_config(m, QuantizationConfig(config_groups={"group_0": preset_name_to_scheme(preset, ["Linear"])},
                                                             ignore=ignore))
            mc = ModelCompressor.from_pretrained_model(m, quantization_format=None)
            mc.compress_model(m)
            with tempfile.TemporaryDirectory() as d:
                m.save_pretrained(d)
                mc.update_config(d)
                qc = json.loads(Path(d, "config.json").read_text())["quantization_config"]
                yield f"ct_{preset.lower()}_{arch_name}", "compressed-tensors", cfg, qc, header(d)


def awq_cases():
    from awq.modules.linear.gemm import WQLinear_GEMM
    from awq.modules.linear.gemv import WQLinear_GEMV

    for version, cls in (("gemm", WQLinear_GEMM), ("gemv", WQLinear_GEMV)):
        for arch_name, cfg in (("llama", LLAMA), ("llama_bias", LLAMA_BIAS)):
            m = build(cfg).half()
            for n, lin in linears(m, lambda n: n == "lm_head"):
                swap(m, n, cls.from_linear(lin, 4, 128, init_only=True))
            qc = {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True, "version": version,
                  "modules_to_not_convert": None}
            yield f"awq_{version}_{arch_name}", "autoawq", dict(cfg, torch_dtype="float16"), qc, state_header(m.state_dict())


def gptq_cases():
    from gptqmodel.nn_modules.qlinear.torch import TorchLinear

    for bits, group, desc, lm_head in ((4, 128, False, False), (3, 128, True, False), (8, -1, False, False),
                                       (4, 64, False, True)):
        for arch_name, cfg in (("llama", LLAMA), ("llama_bias", LLAMA_BIAS)):
            m = build(cfg).half()
            for n, lin in linears(m, lambda n: n == "lm_head" and not lm_head):
                swap(m, n, TorchLinear(bits=bits, group_size=group, desc_act=desc, sym=True,
                                       in_features=lin.in_features, out_features=lin.out_features,
                                       bias=lin.bias is not None))
            qc = {"quant_method": "gptq", "bits": bits, "group_size": group, "desc_act": desc, "sym": True,
                  "lm_head": lm_head, "checkpoint_format": "gptq"}
            yield (f"gptq_{bits}bit_g{group}{'_descact' if desc else ''}{'_lmhead' if lm_head else ''}_{arch_name}",
                   "gptqmodel", dict(cfg, torch_dtype="float16"), qc, state_header(m.state_dict()))


def fp8_cases():
    from transformers import FbgemmFp8Config, FineGrainedFP8Config
    from transformers.integrations.fbgemm_fp8 import replace_with_fbgemm_fp8_linear
    from transformers.integrations.finegrained_fp8 import replace_with_fp8_linear

    m = build(LLAMA)
    qcfg = FineGrainedFP8Config(weight_block_size=(128, 128))
    m = replace_with_fp8_linear(m, modules_to_not_convert=["lm_head"], quantization_config=qcfg).to_empty(device="cpu")
    yield "fp8_block128_llama", "transformers", LLAMA, qcfg.to_dict(), state_header(m.state_dict())
    # Meta-Llama-3.1-405B-FP8's rule (transformers' conversion script): first and last layers,
    # every self_attn and the head stay bf16.
    n = LLAMA["num_hidden_layers"]
    skip = ["model.layers.0", f"model.layers.{n - 1}", "lm_head"] + [f"model.layers.{i}.self_attn" for i in range(1, n - 1)]
    qcfg = FbgemmFp8Config(modules_to_not_convert=skip)
    import transformers.integrations.fbgemm_fp8 as fbgemm_fp8

    fbgemm_fp8.get_quantize_fp8_per_row = lambda: None  # the CUDA op quantizes on the fly; loading needs none
    m = replace_with_fbgemm_fp8_linear(build(LLAMA), modules_to_not_convert=skip, quantization_config=qcfg,
                                       pre_quantized=True)
    m = m.to_empty(device="cpu")  # the replacement modules are made on the meta device
    yield "fbgemm_fp8_405b_rule_llama", "transformers", LLAMA, qcfg.to_dict(), state_header(m.state_dict())


def mxfp4_cases():
    from transformers.integrations.mxfp4 import Mxfp4GptOssExperts
    from transformers.quantizers.quantizer_mxfp4 import Mxfp4HfQuantizer

    m = build(GPT_OSS)
    sd = {k: v for k, v in m.state_dict().items() if ".mlp.experts.gate_up_proj" != k[-len(".mlp.experts.gate_up_proj"):]}
    config = transformers.AutoConfig.for_model(**GPT_OSS)
    for i in range(GPT_OSS["num_hidden_layers"]):
        e = Mxfp4GptOssExperts(config)
        p = f"model.layers.{i}.mlp.experts."
        for proj, (blocks_name, scales_name) in Mxfp4HfQuantizer.serialized_names.items():
            packed = getattr(e, proj)             # [E, out, in/2] uint8: two e2m1 codes per byte
            E, rows, half = packed.shape
            sd[p + blocks_name] = torch.zeros(E, rows, half // 16, 16, dtype=torch.uint8)
            sd[p + scales_name] = torch.full((E, rows, half // 16), 127, dtype=torch.uint8)  # e8m0 exponent 0
            sd.pop(p + proj, None)
    qc = {"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                                                              "model.embed_tokens", "lm_head"]}
    tensors = state_header(sd)
    # Load it back as transformers does on a machine without triton kernels: dequantized to bf16.
    with tempfile.TemporaryDirectory() as d:
        save_file({k: v.contiguous() for k, v in sd.items()}, d + "/model.safetensors")
        cfg = transformers.AutoConfig.for_model(**GPT_OSS)
        cfg.quantization_config = qc
        cfg.save_pretrained(d)
        loaded = AutoModelForCausalLM.from_pretrained(d, device_map="cpu")
        params = {n: [str(p.dtype).removeprefix("torch."), list(p.shape), p.numel() * p.element_size()]
                  for n, p in loaded.named_parameters() if ".experts." in n}
    yield "mxfp4_gpt_oss", "transformers", GPT_OSS, qc, tensors, {"loaded_without_kernels": params}


def hqq_cases():
    from hqq.core.quantize import BaseQuantizeConfig, HQQLinear

    for nbits, group in ((4, 64), (2, 16), (8, 128)):
        m = build(LLAMA)
        sd = {k: v for k, v in m.state_dict().items()}
        for n, lin in linears(m, lambda n: n == "lm_head"):
            h = HQQLinear(lin, BaseQuantizeConfig(nbits=nbits, group_size=group), compute_dtype=DTYPE, device="cpu")
            sd.pop(n + ".weight")
            sd.update({f"{n}.{k}": v for k, v in h.state_dict().items() if isinstance(v, torch.Tensor)})
        qc = {"quant_method": "hqq", "quant_config": {"weight_quant_params": {"nbits": nbits, "group_size": group}},
              "skip_modules": ["lm_head"]}
        yield f"hqq_{nbits}bit_g{group}_llama", "hqq", LLAMA, qc, state_header(sd)


def torchao_cases():
    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    m = build(LLAMA)
    quantize_(m, Int8WeightOnlyConfig(), filter_fn=lambda mod, n: isinstance(mod, torch.nn.Linear) and n != "lm_head")
    sd = {}
    for k, v in m.state_dict().items():
        if hasattr(v, "__tensor_flatten__") and type(v) is not torch.Tensor:
            for inner in v.__tensor_flatten__()[0]:
                sd[f"{k}.{inner}"] = getattr(v, inner)
        else:
            sd[k] = v
    qc = {"quant_method": "torchao", "quant_type": {"default": {"_type": "Int8WeightOnlyConfig"}},
          "modules_to_not_convert": ["lm_head"]}
    yield "torchao_int8wo_llama", "torchao", LLAMA, qc, state_header(sd)


def quanto_cases():
    from optimum.quanto import freeze, qfloat8, qint4, qint8, quantize

    for name, w in (("int8", qint8), ("int4", qint4), ("float8", qfloat8)):
        m = build(LLAMA)
        quantize(m, weights=w, exclude=["lm_head"])
        freeze(m)
        tensors, _ = saved(m)
        qc = {"quant_method": "quanto", "weights": name, "activations": None, "modules_to_not_convert": ["lm_head"]}
        yield f"quanto_{name}_llama", "optimum-quanto", LLAMA, qc, tensors


def versions() -> dict:
    out = {}
    for pkg in ("torch", "transformers", "safetensors", "bitsandbytes", "compressed-tensors", "autoawq", "gptqmodel",
                "hqq", "torchao", "optimum-quanto"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def main() -> None:
    cases = {}
    for gen in (bnb_cases, compressed_tensors_cases, awq_cases, gptq_cases, fp8_cases, mxfp4_cases, hqq_cases,
                torchao_cases, quanto_cases):
        for name, library, cfg, qc, tensors, *extra in gen():
            cases[name] = {"library": library, "config": cfg, "quantization_config": qc,
                           "tensors": with_bytes(tensors), **(extra[0] if extra else {})}
            print(f"{name:<40} {len(tensors):>4} tensors", flush=True)
    out = {
        "generator": "tests/reference/generate_quantized.py",
        "versions": versions(),
        "notes": [
            "tensors: name -> [safetensors dtype, shape, bytes] of what the library's own code writes for a tiny "
            "model; AWQ/GPTQ/HQQ/torchao tensors are their modules' buffers saved as safetensors.",
            "bitsandbytes 4-bit also writes weight.quant_state.bitsandbytes__<type>: a JSON of the quant state "
            "packed into uint8 whose length depends on the double-quant offset's printed digits (metadata, "
            "not held on the GPU as weights).",
            "transformers 5 builds MoE experts as fused 3-D parameters, not nn.Linear: bitsandbytes leaves them "
            "in bf16 (see bnb_*_qwen3_moe); its own MXFP4/FP8 expert modules handle them.",
            "MXFP4 (gpt-oss): without triton kernels (>= 3.4 on CUDA, 3.5 on CPU) and the `kernels` package "
            "transformers dequantizes the experts to bf16 at load (loaded_without_kernels); vLLM keeps them "
            "in MXFP4 (its Mxfp4MoEMethod).",
        ],
        "cases": cases,
    }
    OUT.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
