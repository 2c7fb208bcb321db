"""Write tests/reference/llama_cpp.json: what llama.cpp itself plans for tiny models, per buffer.

Needs a llama.cpp tree built from source (CPU; the PyPI sdist of llama-cpp-python vendors it,
recipe in the project's STACK notes: targets llama-quantize and the libraries) and the `gguf`
package. Never run by the test suite; the suite reads the JSON it writes.

    python tests/reference/generate_llama_cpp.py --llama PATH/TO/llama.cpp [--quick]

What it does:
1. For each architecture below (the widths and vocabularies of tests/reference/archs.py), writes
   an F16 GGUF with the gguf package's GGUFWriter: llama.cpp's tensor names and shapes, random
   weights, a dummy SentencePiece vocabulary. llama.cpp checks every name and shape when it loads,
   so a file that loads has the layout llama.cpp expects.
2. Quantizes it with llama-quantize to the file types vramkit lists (dtypes.GGUF_FILE_TYPES).
3. Compiles llama_cpp_probe.cpp against the build and runs it on each file under a spread of
   settings (n_ctx, n_batch, n_ubatch, n_seq_max, flash attention, K/V cache types, unified KV,
   full SWA cache). The probe prints llama_get_memory_breakdown (exact bytes per buffer type:
   model, context = KV cache, compute) and the log lines naming buffer sizes (the output buffer is
   only in the log, to 0.01 MiB).
The build is CPU-only, so every buffer is a host buffer; GPU buffers are modelled from the source.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from archs import SHARED  # noqa: E402

from vramkit.model import ModelSpec  # noqa: E402

ARCHS = {
    "llama-mha": SHARED["llama-mha"],
    "llama-gqa-128k": SHARED["llama-gqa-128k"],
    "qwen2-152k": SHARED["qwen2-152k"],
    "gemma3-262k": SHARED["gemma3-262k"],
    "qwen3-moe": SHARED["qwen3-moe"],
    "mixtral-moe": SHARED["mixtral-moe"],
    # A small vocabulary beside a wide MLP, so that the MLP (not the logits) is the graph's widest
    # moment, as in Llama 2 70B or Mixtral 8x7B (32k vocabularies, 28k-wide MLPs).
    "llama-wide-mlp": dict(model_type="llama", hidden_size=512, intermediate_size=8192, num_hidden_layers=4,
                           num_attention_heads=8, num_key_value_heads=8, vocab_size=8000,
                           tie_word_embeddings=False, max_position_embeddings=4096),
    "moe-wide-mlp": dict(model_type="mixtral", hidden_size=512, intermediate_size=4096, num_hidden_layers=4,
                         num_attention_heads=8, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
                         vocab_size=8000, tie_word_embeddings=False, max_position_embeddings=4096),
    # DeepSeek-V3's MLA (a low-rank Q, a dense first layer, 8 routed experts and a shared one), written
    # as today's convert_hf_to_gguf writes it: attn_k_b / attn_v_b, so llama.cpp caches the latent.
    "deepseek-mla": dict(model_type="deepseek_v3", hidden_size=512, intermediate_size=1024, moe_intermediate_size=256,
                         num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=8, q_lora_rank=256,
                         kv_lora_rank=128, qk_rope_head_dim=32, qk_nope_head_dim=64, v_head_dim=64,
                         n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1, first_k_dense_replace=1,
                         vocab_size=32000, tie_word_embeddings=False, max_position_embeddings=4096),
}
# gguf architecture name per transformers model_type (convert_hf_to_gguf writes Mistral and Mixtral as llama).
GGUF_ARCH = {"llama": "llama", "mistral": "llama", "mixtral": "llama", "qwen2": "qwen2",
             "gemma3_text": "gemma3", "qwen3_moe": "qwen3moe", "deepseek_v3": "deepseek2"}
FTYPES = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_1", "Q4_0",
          "Q3_K_L", "Q3_K_M", "Q3_K_S", "Q2_K", "Q2_K_S", "F32", "BF16")
# Settings: (n_ctx, n_batch, n_ubatch, n_seq_max, flash_attn -1/0/1, type_k, type_v, kv_unified, swa_full)
BASE = (4096, 2048, 512, 1, 0, "f16", "f16", 0, 0)
SPREAD = [
    BASE,
    (4096, 2048, 512, 1, 1, "f16", "f16", 0, 0),
    (1000, 2048, 512, 1, 0, "f16", "f16", 0, 0),       # n_ctx padded to 256
    (8192, 2048, 512, 1, 0, "f16", "f16", 0, 0),
    (8192, 2048, 512, 1, 1, "f16", "f16", 0, 0),
    (4096, 2048, 128, 1, 0, "f16", "f16", 0, 0),
    (4096, 2048, 128, 1, 1, "f16", "f16", 0, 0),
    (4096, 4096, 2048, 1, 1, "f16", "f16", 0, 0),
    (4096, 1024, 1024, 1, 0, "f16", "f16", 0, 0),
    (4096, 2048, 512, 1, 1, "q8_0", "q8_0", 0, 0),
    (4096, 2048, 512, 1, 1, "q4_0", "q4_0", 0, 0),
    (4096, 2048, 512, 1, 0, "q8_0", "f16", 0, 0),
    (4096, 2048, 512, 1, 1, "f32", "f32", 0, 0),
    (4096, 2048, 512, 4, 1, "f16", "f16", 0, 0),       # 4 sequences, one stream each
    (4096, 2048, 512, 4, 1, "f16", "f16", 1, 0),       # 4 sequences, unified
    (4096, 2048, 512, 2, 0, "f16", "f16", 0, 0),
    (4096, 2048, 512, 1, 1, "f16", "f16", 0, 1),       # full-size SWA cache
    (2048, 512, 512, 1, -1, "f16", "f16", 0, 0),       # flash attention auto
    (32768, 2048, 512, 1, 0, "f16", "f16", 0, 0),      # long context: the scores outgrow the logits
    (32768, 2048, 256, 2, 0, "q8_0", "f16", 0, 0),
]
# Every file type for these; a few for the others (quantizing takes minutes on a small machine).
ALL_FTYPES_FOR = ("llama-mha", "qwen3-moe")
SOME_FTYPES = ("F16", "Q8_0", "Q6_K", "Q4_K_M", "Q4_0", "Q2_K", "BF16")


def spec_of(name: str) -> ModelSpec:
    return ModelSpec.from_config(ARCHS[name], source=name)


def write_gguf(name: str, path: Path) -> None:
    """An F16 GGUF of `name` with llama.cpp's names and shapes (gguf shapes are listed ne[0] first)."""
    import gguf

    cfg, s = ARCHS[name], spec_of(name)
    arch = GGUF_ARCH[s.model_type]
    w = gguf.GGUFWriter(str(path), arch)
    rng = np.random.default_rng(0)
    h, v, ff = s.hidden_size, s.vocab_size, s.intermediate_size
    w.add_context_length(s.max_position_embeddings or 4096)
    w.add_embedding_length(h)
    w.add_block_count(s.num_layers)
    w.add_feed_forward_length(ff)
    w.add_head_count(s.num_heads)
    if s.is_mla:  # the absorbed form: one latent "head" of K (latent + rope) and V (latent)
        w.add_head_count_kv(1)
        w.add_key_length(s.kv_lora_rank + s.qk_rope_head_dim)
        w.add_value_length(s.kv_lora_rank)
        w.add_key_length_mla(s.head_dim)
        w.add_value_length_mla(s.value_head_dim)
        w.add_kv_lora_rank(s.kv_lora_rank)
        w.add_q_lora_rank(s.q_lora_rank)  # llama.cpp reads it for every DeepSeek2 but the Lite sizes
        w.add_rope_dimension_count(s.qk_rope_head_dim)
        w.add_leading_dense_block_count(sum(1 for m in s.moe_layers if not m))
        w.add_expert_shared_count(s.shared_expert_size // s.moe_intermediate_size)
        w.add_expert_weights_scale(1.0)
    else:
        w.add_head_count_kv(s.num_kv_heads)
        w.add_key_length(s.head_dim)
        w.add_value_length(s.value_head_dim)
        w.add_rope_dimension_count(s.head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    if s.sliding_window and arch == "gemma3":
        w.add_sliding_window(s.sliding_window)
    if s.num_experts:
        w.add_expert_count(s.num_experts)
        w.add_expert_used_count(s.experts_per_token)
        if arch in ("qwen3moe", "deepseek2"):
            w.add_expert_feed_forward_length(s.moe_intermediate_size)
    # A dummy SentencePiece vocabulary: <unk>, <s>, </s>, then plain pieces.
    toks = ["<unk>", "<s>", "</s>"] + [f"\u2581t{i}" for i in range(3, v)]
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores([0.0] * v)
    w.add_token_types([2, 3, 3] + [1] * (v - 3))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    def t(tname: str, *shape: int, f32: bool = False) -> None:
        # gguf's writer takes numpy shapes (row length last), llama.cpp lists ne[0] first.
        a = (rng.standard_normal(tuple(reversed(shape)), dtype=np.float32) * 0.02)
        w.add_tensor(tname, a if f32 or len(shape) == 1 else a.astype(np.float16))

    t("token_embd.weight", h, v)
    t("output_norm.weight", h, f32=True)
    if not s.tie_word_embeddings:
        t("output.weight", h, v)
    q, kv = s.q_dim, s.kv_dim
    for i in range(s.num_layers):
        p = f"blk.{i}."
        t(p + "attn_norm.weight", h, f32=True)
        if s.is_mla:
            nope, r, nh = s.head_dim - s.qk_rope_head_dim, s.kv_lora_rank, s.num_heads
            t(p + "attn_q_a_norm.weight", s.q_lora_rank, f32=True)
            t(p + "attn_q_a.weight", h, s.q_lora_rank)
            t(p + "attn_q_b.weight", s.q_lora_rank, nh * s.head_dim)
            t(p + "attn_kv_a_mqa.weight", h, r + s.qk_rope_head_dim)
            t(p + "attn_kv_a_norm.weight", r, f32=True)
            t(p + "attn_k_b.weight", nope, r, nh)
            t(p + "attn_v_b.weight", r, s.value_head_dim, nh)
            t(p + "attn_output.weight", nh * s.value_head_dim, h)
        else:
            t(p + "attn_q.weight", h, q)
            t(p + "attn_k.weight", h, kv)
            t(p + "attn_v.weight", h, s.num_kv_heads * s.value_head_dim)
            t(p + "attn_output.weight", q, h)
        if s.qkv_bias:
            t(p + "attn_q.bias", q, f32=True)
            t(p + "attn_k.bias", kv, f32=True)
            t(p + "attn_v.bias", kv, f32=True)
        if s.qk_norm == "head":
            t(p + "attn_q_norm.weight", s.head_dim, f32=True)
            t(p + "attn_k_norm.weight", s.head_dim, f32=True)
        if arch == "gemma3":
            t(p + "post_attention_norm.weight", h, f32=True)
            t(p + "post_ffw_norm.weight", h, f32=True)
        t(p + "ffn_norm.weight", h, f32=True)
        if s.num_experts and s.moe_layers[i]:
            e, fe = s.num_experts, s.moe_intermediate_size or ff
            t(p + "ffn_gate_inp.weight", h, e, f32=True)
            t(p + "ffn_gate_exps.weight", h, fe, e)
            t(p + "ffn_up_exps.weight", h, fe, e)
            t(p + "ffn_down_exps.weight", fe, h, e)
            if s.shared_expert_size:
                t(p + "ffn_gate_shexp.weight", h, s.shared_expert_size)
                t(p + "ffn_up_shexp.weight", h, s.shared_expert_size)
                t(p + "ffn_down_shexp.weight", s.shared_expert_size, h)
        else:
            t(p + "ffn_gate.weight", h, ff)
            t(p + "ffn_up.weight", h, ff)
            t(p + "ffn_down.weight", ff, h)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# llama_ftype ids (include/llama.h) of the file types above.
FTYPE_ID = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_S": 11,
            "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18,
            "Q2_K_S": 21, "BF16": 32}


def quantize(llama: Path, exe: Path, src: Path, dst: Path, ftype: str) -> str:
    """Quantize with llama-quantize when it is built, else with the probe's call of the same
    library function (llama_model_quantize, default parameters). Returns which one ran."""
    tool = llama / "build" / "bin" / "llama-quantize"
    env = {"LD_LIBRARY_PATH": str(llama / "build" / "bin")}
    if tool.exists():
        subprocess.run([str(tool), str(src), str(dst), ftype, "2"], check=True, capture_output=True, env=env)
        return "llama-quantize"
    subprocess.run([str(exe), "--quantize", str(src), str(dst), str(FTYPE_ID[ftype])], check=True,
                   capture_output=True, env=env)
    return "llama_model_quantize"


def build_probe(llama: Path, out: Path) -> Path:
    exe = out / f"llama_cpp_probe_{os.getpid()}"  # one per run: two runs may share a work folder
    subprocess.run(["g++", "-O1", "-std=c++17", str(HERE / "llama_cpp_probe.cpp"), "-I", str(llama / "include"),
                    "-I", str(llama / "ggml" / "include"), "-I", str(llama / "src"),
                    "-L", str(llama / "build" / "bin"), "-lllama", "-lggml", "-lggml-base",
                    "-Wl,-rpath," + str(llama / "build" / "bin"), "-o", str(exe)], check=True)
    return exe


# The sdist's tree has no git history, so its build-info says build 1; the public build number of
# the commit (llama.cpp's release tag bNNNN counts commits) as llama.cpp's own builds print it.
PUBLIC_BUILD = {"0c1e570": (11312, "release tag b11312 (commit 0c1e57098bba43ac29e6e3b677cdceebdd22334f)")}


def build_info(llama: Path) -> dict:
    text = (llama / "build" / "common" / "build-info.cpp").read_text()
    get = lambda k: re.search(k + r' = "?([^";]*)"?;', text).group(1)  # noqa: E731
    build, source = PUBLIC_BUILD.get(get("LLAMA_COMMIT"), (None, None))
    return {"commit": get("LLAMA_COMMIT"), "build_number": build, "build_number_source": source,
            "build_number_in_tree": int(get("LLAMA_BUILD_NUMBER")),
            "compiler": get("LLAMA_COMPILER"), "target": get("LLAMA_BUILD_TARGET")}


def probe(exe: Path, model: Path, setting) -> dict:
    n_ctx, n_batch, n_ubatch, n_seq, fa, tk, tv, unified, swa_full = setting
    r = subprocess.run([str(exe), str(model), *map(str, (n_ctx, n_batch, n_ubatch, n_seq, fa, tk, tv, 1, unified,
                                                        swa_full))], capture_output=True, text=True)
    if r.returncode:
        lines = r.stderr.strip().splitlines() or ["failed"]
        why = [ln for ln in lines if "does not support" in ln or "requires" in ln]
        return {"error": (why or lines)[-1].strip()}
    return json.loads(r.stdout)


def write(args, llama: Path, cases: list, quantizer: dict) -> None:
    """Write the fixture (after every architecture, so an interrupted run keeps what it measured)."""
    info = build_info(llama)
    gguf_version = __import__("importlib.metadata").metadata.version("gguf")
    out = {
        "generator": "tests/reference/generate_llama_cpp.py (probe: tests/reference/llama_cpp_probe.cpp)",
        "llama_cpp": {**info, "source": "llama-cpp-python 0.3.36 sdist, vendor/llama.cpp",
                      "build": "CPU only: -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release",
                      "mode": "no_alloc projection (what llama-fit-params and --fit measure), n_gpu_layers 0, no mmap"},
        "gguf_package": gguf_version,
        "quantized_with": sorted(set(quantizer.values())),
        "archs": {n: ARCHS[n] for n in args.archs.split(",")},
        "runs": [" ".join(["generate_llama_cpp.py"] + [("PATH" if a.startswith("/") else a) for a in sys.argv[1:]])],
        "cases": cases,
    }
    if args.previous:
        prev = args.previous
        out["archs"] = {**prev["archs"], **out["archs"]}
        out["runs"] = prev.get("runs", ["generate_llama_cpp.py --llama PATH --work PATH --out PATH"]) + out["runs"]
        out["quantized_with"] = sorted(set(prev.get("quantized_with", [])) | set(out["quantized_with"]))
        out["cases"] = prev["cases"] + cases
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", args.out, len(cases), "cases", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama", required=True, type=Path)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "llama_cpp.json")
    ap.add_argument("--archs", default=",".join(ARCHS))
    ap.add_argument("--ftypes", default=",".join(FTYPES))
    ap.add_argument("--spread-ftypes", default="F16,Q4_K_M")
    ap.add_argument("--append", type=Path, default=None,
                    help="a fixture written earlier by this script: keep its cases and add these")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="lcpp-"))
    work.mkdir(parents=True, exist_ok=True)
    llama = args.llama.resolve()
    exe = build_probe(llama, work)
    cases, quantizer = [], {}
    args.previous = json.loads(args.append.read_text()) if args.append else None
    for name in args.archs.split(","):
        f16 = work / f"{name}-F16.gguf"
        if not f16.exists():
            write_gguf(name, f16)
        for ftype in args.ftypes.split(","):
            if name not in ALL_FTYPES_FOR and ftype not in SOME_FTYPES:
                continue
            path = work / f"{name}-{ftype}.gguf"
            if not path.exists():
                try:
                    quantizer[ftype] = quantize(llama, exe, f16, path, ftype)
                except subprocess.CalledProcessError as e:
                    # e.g. Q2_K_S: llama.cpp requires an importance matrix for it
                    text = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace")
                    why = [ln for ln in text.splitlines() if "imatrix" in ln.lower() or "error" in ln.lower()]
                    cases.append({"arch": name, "ftype": ftype, "error": (why or ["quantization failed"])[-1].strip()})
                    print(name, ftype, "quantization failed:", cases[-1]["error"], flush=True)
                    path.unlink(missing_ok=True)
                    continue
            quantizer.setdefault(ftype, "llama_model_quantize")  # made by an earlier run of this script
            settings = SPREAD if ftype in args.spread_ftypes.split(",") else [BASE]
            for st in settings:
                res = probe(exe, path, st)
                keys = ("n_ctx", "n_batch", "n_ubatch", "n_seq_max", "flash_attn", "cache_type_k", "cache_type_v",
                        "kv_unified", "swa_full")
                case = {"arch": name, "ftype": ftype, "request": dict(zip(keys, st)), **res}
                cases.append(case)
                print(name, ftype, st, "error" in res and res["error"] or
                      [(b["buft"], b["model"], b["context"], b["compute"]) for b in res["buffers"]], flush=True)
        write(args, llama, cases, quantizer)
    write(args, llama, cases, quantizer)


if __name__ == "__main__":
    main()
