"""Write vramkit/catalog/published-vllm-startup-logs.json: what vLLM printed at start-up, per run.

Sources (public):
- llm-d-incubation/llm-d-planner at commit d3121e0 (accuracy/results/v0.19.0/logs/*.log): 50+ vLLM
  0.19.0 start-up logs on one H100 80GB HBM3 at DEBUG level, so each prints the whole budget
  (total, requested, weights, torch peak, non-torch, CUDA-graph estimate, available KV, tokens,
  blocks, concurrency). Run with the path of a git clone of that repository.
- vllm-project/vllm#10517: an RTX 3090 serving Llama-3.1-8B-Instruct on the V0 engine at three
  --max-model-len values (one refused to start), transcribed by hand below.

Each entry names what vramkit needs to ask the same question (`ask`: a catalog model or config,
weights format, vLLM options) and what vLLM printed (`printed`). Entries vramkit cannot ask
(architectures or checkpoint formats it does not read) keep `ask: null` and say why in `skip`.

    python tests/reference/generate_vllm_logs.py PATH-TO-llm-d-planner-CLONE
"""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

COMMIT = "d3121e059da88662db39a926a3ead964be97359b"
LOGS = "accuracy/results/v0.19.0/logs"
URL = f"https://github.com/llm-d-incubation/llm-d-planner/blob/{COMMIT}/{LOGS}/"
OUT = Path(__file__).resolve().parents[2] / "vramkit" / "catalog" / "published-vllm-startup-logs.json"

LLAMA31_70B = {"model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
               "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 128256,
               "max_position_embeddings": 131072, "tie_word_embeddings": False}
CODELLAMA_7B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32016,
                "max_position_embeddings": 16384}
GEMMA2_2B = {"model_type": "gemma2", "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
             "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "vocab_size": 256000,
             "max_position_embeddings": 8192, "sliding_window": 4096}
PHI4 = {"model_type": "phi3", "hidden_size": 5120, "intermediate_size": 17920, "num_hidden_layers": 40,
        "num_attention_heads": 40, "num_key_value_heads": 10, "vocab_size": 100352,
        "max_position_embeddings": 16384, "tie_word_embeddings": False}
KIMI_DEV_72B = {"model_type": "qwen2", "hidden_size": 8192, "intermediate_size": 29568, "num_hidden_layers": 80,
                "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 152064,
                "max_position_embeddings": 131072, "tie_word_embeddings": False}

# HF model id -> (catalog name or config dict, weights format); None: vramkit cannot ask it, and why.
MODELS = {
    "meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b",
    "Qwen/Qwen2.5-7B-Instruct": "qwen2.5-7b",
    "Qwen/Qwen2.5-72B-Instruct": "qwen2.5-72b",
    "Qwen/Qwen3-8B": "qwen3-8b",
    "Qwen/Qwen3-30B-A3B": "qwen3-30b-a3b",
    "Qwen/Qwen1.5-MoE-A2.7B": "qwen1.5-moe-a2.7b",
    "google/gemma-2-9b-it": "gemma-2-9b",
    "google/gemma-2-27b-it": "gemma-2-27b",
    "google/gemma-2-2b-it": GEMMA2_2B,
    "google/gemma-7b": "gemma-7b",
    "mistralai/Mixtral-8x7B-Instruct-v0.1": "mixtral-8x7b-v0.1",
    "codellama/CodeLlama-7b-hf": CODELLAMA_7B,
    "microsoft/phi-4": PHI4,
    "moonshotai/Kimi-Dev-72B": KIMI_DEV_72B,
    "RedHatAI/Llama-3.3-70B-Instruct-fp8-dynamic": LLAMA31_70B,
    "redhatai/Llama-3.3-70B-Instruct-quantized.w8a8": LLAMA31_70B,
    "RedHatAI/Qwen2.5-7B-Instruct-fp8-dynamic": "qwen2.5-7b",
    "RedHatAI/Qwen2.5-7B-Instruct-quantized.w8a8": "qwen2.5-7b",
    "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w8a8": "llama-3.1-8b",
    "openai/gpt-oss-20b": "gpt-oss-20b",
    "google/gemma-3-27b-it": "gemma-3-27b-it",
    "mistralai/Mistral-Small-3.1-24B-Instruct-2503": "mistral-small-3.1-24b",
    "RedHatAI/Mistral-Small-3.1-24B-Instruct-2503-quantized.w8a8": "mistral-small-3.1-24b",
    # chunked local attention: 36 chunked (8,192) + 12 full layers -> 4 KV-cache groups of 12
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": "llama-4-scout-17b-16e-instruct",
}
SKIP = {
    "deepseek-ai/DeepSeek-V2-Lite-Chat": "model_type deepseek_v2 is not read by vramkit",
    "google/gemma-3-12b-it": "multimodal checkpoint not in vramkit's catalog (gemma-3-27b-it is asked)",
    "google/gemma-3-4b-it": "multimodal checkpoint not in vramkit's catalog (gemma-3-27b-it is asked)",
    "moonshotai/Kimi-VL-A3B-Instruct": "multimodal DeepSeek-V3 variant (MoonViT tower)",
    "ibm-granite/granite-3.1-2b-instruct": "model_type granite is not read by vramkit",
    "ibm-granite/granite-3.1-8b-instruct": "model_type granite is not read by vramkit",
    "ibm-granite/granite-3.3-8b-instruct": "model_type granite is not read by vramkit",
    "ibm-granite/granite-vision-3.3-2b": "model_type granite is not read by vramkit",
    "microsoft/phi-2": "model_type phi is not read by vramkit",
    "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16": "GPTQ-Marlin repacked 4-bit weights: vramkit has no Marlin layout",
}

# Runs vramkit reproduces less well than 3% in blocks, and why (tests/test_engine_vllm.py checks
# that each still misses, so the explanation stays true).
_MISTRAL3_HEAD = (
    "vLLM loads Mistral Small 3.1's output head as its own tensor (the checkpoint stores lm_head; vLLM's "
    "text model follows text_config, untied), while transformers 5 ties it by Mistral3Config's default, "
    "which vramkit counts: vLLM holds 131,072 x 5,120 more weights (1.25 GiB in bf16 per GPU at TP=1), "
    "{share} of this pool")
MISSES = {
    "mistralai-mistral-small---h100-80gb--tp1pp1dp1--8192": _MISTRAL3_HEAD.format(share="4.4%"),
    "w8a8-mistral-small-24b--h100-80gb--tp1pp1dp1--8192": _MISTRAL3_HEAD.format(share="2.6%")
    + "; the int8 checkpoint also keeps the Pixtral tower in bf16, which vramkit's int8 quantizes",
    "moonshotai-kimi-dev-72b--h100-80gb--tp2pp1dp1--8192": (
        "a 72B model in bf16 on two H100s leaves a 3.02 GiB pool (4% of the budget): vLLM counts 0.08 GiB "
        "more weights per rank than vramkit (67.82 vs 67.74 GiB; the allocator's rounding of about 700 "
        "weight tensors is not modelled), which is 2.6% of the pool, plus 0.01 GiB of activation"),
}

GIB_LINE = {
    "total": r"worker init memory snapshot: .*?total_memory=([\d.]+)GiB",
    "requested": r"worker requested memory: ([\d.]+)GiB",
    "weights": r"Model loading took ([\d.]+) GiB memory",
    "activation": r"torch peak memory increase: ([\d.]+)GiB",
    "non_torch": r"non-torch forward increase memory: ([\d.]+)GiB",
    "cudagraph_estimate": r"Estimated CUDA graph memory: ([\d.]+) GiB total",
    "available_kv": r"Available KV cache memory: (-?[\d.]+) GiB",
}


def _weights_format(args: dict, engine_config: str) -> str:
    """The vramkit weight format of a run, from its dtype and quantization."""
    quant = re.search(r"quantization=([\w-]+)", engine_config)
    dtype = re.search(r"dtype=torch\.(\w+)", engine_config)
    name = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}[dtype.group(1)]
    q = quant.group(1) if quant else "None"
    if q == "fp8" or "fp8" in args.get("model", "").lower():
        return "fp8_e4m3"
    if q == "compressed-tensors":
        return "int8"
    if q == "mxfp4":
        return "mxfp4"
    return name


def parse(text: str, name: str) -> dict:
    args = ast.literal_eval(re.search(r"non-default args: (\{.*\})", text).group(1))
    engine_config = re.search(r"Initializing a V1 LLM engine \(v([\d.]+)\) with config: (.*)", text)
    version, config = engine_config.group(1), engine_config.group(2)
    printed = {}
    for key, rx in GIB_LINE.items():
        m = re.search(rx, text)
        printed[f"{key}_gib"] = float(m.group(1)) if m else None
    tokens = re.search(r"GPU KV cache size: ([\d,]+) tokens", text)
    conc = re.search(r"Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x", text)
    blocks = re.search(r"num_gpu_blocks is: (\d+)", text)
    printed.update(kv_tokens=int(tokens.group(1).replace(",", "")) if tokens else None,
                   max_concurrency=float(conc.group(2)) if conc else None,
                   num_gpu_blocks=int(blocks.group(1)) if blocks else None)
    batched = re.search(r"max_num_batched_tokens=(\d+)", text)
    seqs = re.search(r"Defaulting max_num_seqs to (\d+)", text)
    kv_dtype = re.search(r"kv_cache_dtype=(\w+)", config).group(1)
    model = args["model"]
    options = {"vllm_version": "0.19", "gpu_memory_utilization": args.get("gpu_memory_utilization", 0.9),
               "max_model_len": args["max_model_len"],
               "tensor_parallel_size": args.get("tensor_parallel_size", 1),
               "pipeline_parallel_size": args.get("pipeline_parallel_size", 1),
               "max_num_batched_tokens": int(batched.group(1)) if batched else None,
               "max_num_seqs": int(seqs.group(1)) if seqs else args.get("max_num_seqs"),
               "total_memory_bytes": round(printed["total_gib"] * 2**30)}
    ask, skip = None, SKIP.get(model)
    if model in MODELS:
        m = MODELS[model]
        ask = {"model": m, "weights": _weights_format(args, config),
               "kv_dtype": "fp8_e4m3" if kv_dtype == "fp8" else None, "options": options}
    elif skip is None:
        skip = "model not mapped to a vramkit model"
    run = name.removesuffix(".log")
    return {"id": run, "source": URL + name, "miss": MISSES.get(run), "vllm_version": version,
            "gpu": "NVIDIA H100 80GB HBM3", "model": model, "flags": args, "ask": ask, "skip": skip,
            "printed": printed}


# vllm-project/vllm#10517 (comment of 2024-12-02): vLLM V0 (0.6.x), RTX 3090, Llama-3.1-8B-Instruct,
# gpu_memory_utilization 0.90, block size 16. Transcribed from the issue.
ISSUE_10517 = "https://github.com/vllm-project/vllm/issues/10517"
HAND = [
    {"id": "vllm-10517-rtx3090-20k", "max_model_len": 20000, "peak_torch": 17.06, "kv": 3.81, "blocks": 1952,
     "concurrency": 1.56, "refused": False},
    {"id": "vllm-10517-rtx3090-29k", "max_model_len": 29000, "peak_torch": 17.98, "kv": 2.89, "blocks": 1478,
     "concurrency": 0.82, "refused": True},
]


def hand_entries() -> list[dict]:
    out = []
    for h in HAND:
        out.append({
            "id": h["id"], "source": ISSUE_10517, "vllm_version": "0.6 (V0 engine)", "gpu": "NVIDIA GeForce RTX 3090",
            "model": "meta-llama/Llama-3.1-8B-Instruct",
            "flags": {"max_model_len": h["max_model_len"], "gpu_memory_utilization": 0.9},
            "ask": {"model": "llama-3.1-8b", "weights": "bf16", "kv_dtype": None,
                    "options": {"vllm_version": "0.6", "gpu_memory_utilization": 0.9,
                                "max_model_len": h["max_model_len"], "tensor_parallel_size": 1,
                                "pipeline_parallel_size": 1, "max_num_batched_tokens": None,
                                "max_num_seqs": None, "total_memory_bytes": round(23.58 * 2**30)}},
            "skip": None, "miss": None,
            "printed": {"total_gib": 23.58, "weights_gib": 14.99, "activation_gib": round(h["peak_torch"] - 14.99, 2),
                        "non_torch_gib": 0.35, "available_kv_gib": h["kv"], "kv_tokens": h["blocks"] * 16,
                        "num_gpu_blocks": h["blocks"], "max_concurrency": h["concurrency"],
                        "refused_to_start": h["refused"]},
        })
    return out


# Hybrid (Gated DeltaNet + attention) start-up lines quoted in public threads whose memory budget
# (an FP8-Marlin checkpoint, a multimodal tower, an unknown GPU share) vramkit cannot reproduce:
# each is checked on the KV layout alone (attention block size; the tokens and concurrency vLLM
# prints for the pool's whole blocks, `blocks_inferred` being the one block count that prints them).
# The models are Qwen3_5ForConditionalGeneration checkpoints of Qwen3.5-27B's shape (64 layers,
# 16 full attention with 4 KV heads of 256, 48 Gated DeltaNet), asked as qwen3.5-27b.
_LAYOUT_ONLY = "memory budget not reproducible (checkpoint format and tower not in vramkit); KV layout checked"
LAYOUT = [
    {"id": "lmcache-5079-qwen3.8-27b-h200-tp1", "source": "https://github.com/LMCache/LMCache/pull/5079",
     "vllm_version": "unstated (2026-09, Platform._align_hybrid_block_size era)", "gpu": "NVIDIA H200",
     "model": "Qwen/Qwen3.8-27B (same block size as Qwen3.6-27B, per the thread)",
     "flags": {"mamba_cache_mode": "align", "enable_prefix_caching": True, "load_format": "dummy"},
     "ask": {"model": "qwen3.5-27b", "weights": "bf16", "kv_dtype": None,
             "options": {"vllm_version": "0.28", "tensor_parallel_size": 1, "max_model_len": 262144,
                         "enable_prefix_caching": True, "mamba_cache_mode": "align"}},
     "printed": {"attention_block_size": 784}},
    {"id": "talos-1995-qwen3.8-27b-fp8-tp2", "source": "https://github.com/mitchross/talos-argocd-proxmox/pull/1995",
     "vllm_version": "unstated (2026-08; prints the group-aware token capacity)", "gpu": "2x NVIDIA GeForce RTX 3090",
     "model": "Qwen3.8-27B-FP8",
     "flags": {"max_model_len": 131072, "max_num_seqs": 2, "tensor_parallel_size": 2, "gpu_memory_utilization": 0.92,
               "kv_cache_dtype": "fp8_e4m3", "enable_prefix_caching": True, "max_num_batched_tokens": 8192},
     "ask": {"model": "qwen3.5-27b", "weights": "bf16", "kv_dtype": "fp8_e4m3",
             "options": {"vllm_version": "0.28", "tensor_parallel_size": 2, "max_model_len": 131072,
                         "max_num_batched_tokens": 8192, "max_num_seqs": 2, "enable_prefix_caching": True}},
     "blocks_inferred": 208,
     "printed": {"attention_block_size": 1568, "kv_tokens": 302921, "max_concurrency": 2.31}},
]


def layout_entries() -> list[dict]:
    return [dict(e, skip=None, miss=None, layout_only=_LAYOUT_ONLY) for e in LAYOUT]


def main(clone: str) -> None:
    names = subprocess.run(["git", "-C", clone, "ls-tree", "--name-only", f"{COMMIT}:{LOGS}"],
                           capture_output=True, text=True, check=True).stdout.split()
    entries = []
    for name in sorted(names):
        if name.endswith(".FAILED.log"):
            continue  # a retry of the same run exists; the failed attempt printed no plan
        text = subprocess.run(["git", "-C", clone, "show", f"{COMMIT}:{LOGS}/{name}"],
                              capture_output=True, text=True, check=True).stdout
        entries.append(parse(text, name))
    entries += hand_entries()
    entries += layout_entries()
    doc = {"id": "vllm-startup-logs", "title": "vLLM start-up logs (weights, peak, non-torch, KV blocks)",
           "source": "vLLM start-up logs published in public repositories and vLLM issues",
           "generator": "tests/reference/generate_vllm_logs.py",
           "units": "GiB as vLLM prints them (2**30 bytes, two decimals)",
           "entries": entries}
    OUT.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"{len(entries)} entries -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
