"""Write tests/reference/llama_cpp_hybrid.json: llama.cpp's own per-tensor GGUF types and per-buffer
memory plan for hybrid models (Mamba / Mamba-2, Gated DeltaNet, short convolution) and llama4's
chunked attention.

The same schema as llama_cpp.json (written by generate_llama_cpp.py, whose quantizer, probe and
build information this script reuses), plus, per (arch, file type), every tensor of the quantized
file as llama-quantize wrote it: [name, ggml shape (ne[0] first), ggml type].

Unlike generate_llama_cpp.py the files are made the way users make them: a tiny random-weight
transformers model (torch, transformers; CPU) saved with save_pretrained, converted to an F16 GGUF
by the vendored convert_hf_to_gguf.py (its own tensor names, shapes, F32/F16 choices and metadata),
then quantized with llama-quantize. The converter's tokenizer step is replaced by a dummy
SentencePiece vocabulary of `vocab_size` pieces (the models have no tokenizer files; the vocabulary
changes no tensor). Never run by the test suite.

    python tests/reference/generate_llama_cpp_hybrid.py --llama PATH/TO/llama.cpp [--archs a,b]

The compute-buffer rules of vramkit/engines/llama_cpp.py (compute_phases) were read from the
allocator's own trace of these files: ggml/src/ggml-alloc.c compiled alone as a shared library with
GGML_ALLOCATOR_DEBUG defined (its max_size log printed to stderr with each live tensor's name, op,
offset and bytes, and a marker in ggml_dyn_tallocr_reset), linked against libggml-base and
LD_PRELOADed under the probe (`probe MODEL N_CTX N_BATCH N_UBATCH N_SEQ FA TK TV 1 UNIFIED SWA_FULL`);
the last max_size line of the last reserve lists what is alive, and the holes, at the peak.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate_llama_cpp as base  # noqa: E402

V = 2048
# Tiny, but with the row lengths of real models (multiples of 256) so the k-quants apply as they
# do on real checkpoints; each arch keeps its family's layer pattern.
ARCHS: dict[str, dict] = {
    "qwen3_next": dict(
        model_type="qwen3_next", architectures=["Qwen3NextForCausalLM"], hidden_size=512, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, head_dim=128, intermediate_size=1024, vocab_size=V,
        num_experts=4, num_experts_per_tok=2, moe_intermediate_size=256, shared_expert_intermediate_size=256,
        linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=128, linear_value_head_dim=128,
        linear_conv_kernel_dim=4, full_attention_interval=4, tie_word_embeddings=False),
    "nemotron_h": dict(
        model_type="nemotron_h", architectures=["NemotronHForCausalLM"], hidden_size=512,
        hybrid_override_pattern="M-M*-M*-", num_attention_heads=4, num_key_value_heads=2, head_dim=128,
        intermediate_size=1024, vocab_size=V, ssm_state_size=64, mamba_num_heads=16, mamba_head_dim=64,
        n_groups=2, conv_kernel=4, expand=2, chunk_size=64, tie_word_embeddings=False),
    "granitemoehybrid": dict(
        model_type="granitemoehybrid", architectures=["GraniteMoeHybridForCausalLM"], hidden_size=512,
        num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, intermediate_size=256, vocab_size=V,
        num_local_experts=4, num_experts_per_tok=2, shared_intermediate_size=512,
        layer_types=["mamba", "mamba", "attention", "mamba"], mamba_n_heads=16, mamba_n_groups=1,
        mamba_d_state=64, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=64, tie_word_embeddings=True),
    "bamba": dict(
        model_type="bamba", architectures=["BambaForCausalLM"], hidden_size=512, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, intermediate_size=1024, vocab_size=V,
        attn_layer_indices=[2], mamba_n_heads=16, mamba_n_groups=1, mamba_d_state=64, mamba_d_conv=4,
        mamba_expand=2, mamba_chunk_size=64, tie_word_embeddings=False),
    "falcon_h1": dict(
        model_type="falcon_h1", architectures=["FalconH1ForCausalLM"], hidden_size=512, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, head_dim=128, intermediate_size=1024, vocab_size=V,
        mamba_d_ssm=1024, mamba_n_heads=16, mamba_d_head=64, mamba_n_groups=1, mamba_d_state=64,
        mamba_d_conv=4, mamba_chunk_size=64, tie_word_embeddings=False),
    "jamba": dict(
        model_type="jamba", architectures=["JambaForCausalLM"], hidden_size=512, num_hidden_layers=8,
        num_attention_heads=4, num_key_value_heads=2, intermediate_size=1024, vocab_size=V, num_experts=4,
        num_experts_per_tok=2, attn_layer_period=8, attn_layer_offset=4, expert_layer_period=2,
        expert_layer_offset=1, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, use_mamba_kernels=False,
        tie_word_embeddings=False),
    "lfm2": dict(
        model_type="lfm2", architectures=["Lfm2ForCausalLM"], hidden_size=512, num_hidden_layers=6,
        num_attention_heads=8, num_key_value_heads=4, intermediate_size=2304, vocab_size=V,
        full_attn_idxs=[2, 5], conv_L_cache=3, block_multiple_of=256, block_ffn_dim_multiplier=1.0,
        tie_word_embeddings=True),
    "llama4_text": dict(
        model_type="llama4_text", architectures=["Llama4ForCausalLM"], hidden_size=512, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, head_dim=128, intermediate_size=512,
        intermediate_size_mlp=1024, vocab_size=V, num_local_experts=4, num_experts_per_tok=1,
        interleave_moe_layer_step=2, attention_chunk_size=1024, no_rope_layers=[1, 1, 1, 0],
        tie_word_embeddings=False),
}
NO_MTP = ("qwen3_next",)
FTYPES = ("F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q2_K")
BASE = base.BASE
SPREAD = [
    BASE,
    (4096, 2048, 512, 1, 1, "f16", "f16", 0, 0),
    (1000, 2048, 512, 1, 0, "f16", "f16", 0, 0),
    (4096, 2048, 128, 1, 0, "f16", "f16", 0, 0),
    (4096, 2048, 512, 1, 1, "q8_0", "q8_0", 0, 0),
    (4096, 2048, 512, 4, 1, "f16", "f16", 0, 0),
    (4096, 2048, 512, 4, 1, "f16", "f16", 1, 0),
    (4096, 2048, 512, 2, 0, "f16", "f16", 0, 0),
    (32768, 2048, 512, 1, 0, "f16", "f16", 0, 0),
    (4096, 2048, 512, 1, 1, "f16", "f16", 0, 1),
]

CONVERT_WRAPPER = r'''
import sys
sys.argv = [sys.argv[0]] + sys.argv[2:]
llama = __import__("pathlib").Path(sys.orig_argv[2] if False else __import__("os").environ["LLAMA_TREE"])
sys.path.insert(0, str(llama)); sys.path.insert(1, str(llama / "gguf-py"))
import convert_hf_to_gguf as C

def dummy_vocab(self):
    n = self.hparams.get("vocab_size") or self.hparams["text_config"]["vocab_size"]
    toks = ["<unk>", "<s>", "</s>"] + ["\u2581t%d" % i for i in range(3, n)]
    w = self.gguf_writer
    w.add_tokenizer_model("llama"); w.add_tokenizer_pre("default")
    w.add_token_list(toks); w.add_token_scores([0.0] * n); w.add_token_types([2, 3, 3] + [1] * (n - 3))
    w.add_bos_token_id(1); w.add_eos_token_id(2); w.add_unk_token_id(0)

if __import__("os").environ.get("RAW_CONFIG"):
    # read config.json as written (the converter's own fallback when AutoConfig cannot load it)
    import conversion.base as B
    class _NoAuto:
        @staticmethod
        def from_pretrained(*a, **k):
            raise ValueError("config.json read as written")
    B.AutoConfig = _NoAuto

orig = C.get_model_class
def patched(*a, **k):
    cls = orig(*a, **k)
    cls.set_vocab = dummy_vocab
    return cls
C.get_model_class = patched
C.main()
'''


def make_hf(name: str, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = dict(ARCHS[name])
    kw = {k: v for k, v in cfg.items() if k != "model_type"}
    config = AutoConfig.for_model(cfg["model_type"], **kw)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(out)
    cfg_path = out / "config.json"
    saved = json.loads(cfg_path.read_text())
    if cfg["model_type"] == "nemotron_h" and "E" not in cfg["hybrid_override_pattern"]:
        # The Hub's form of a dense Nemotron-H config: transformers 5 saves the pattern as a list
        # and NemotronHConfig's MoE defaults, and the converter then writes the MoE architecture
        # without the MLP layers' widths. The Hub's dense configs have the pattern string, no MoE keys.
        del saved["layers_block_type"]
        saved["hybrid_override_pattern"] = cfg["hybrid_override_pattern"]
        saved["num_hidden_layers"] = len(cfg["hybrid_override_pattern"])
        for k in ("moe_intermediate_size", "moe_latent_size", "moe_shared_expert_intermediate_size",
                  "moe_shared_expert_overlap", "mtp_layers_block_type", "n_group", "n_routed_experts",
                  "n_shared_experts", "norm_topk_prob", "num_experts_per_tok", "routed_scaling_factor",
                  "topk_group", "num_nextn_predict_layers"):
            saved.pop(k, None)
        cfg_path.write_text(json.dumps(saved, indent=2))
    if cfg["model_type"] == "granitemoehybrid":
        # transformers 5 saves layer_types as "linear_attention"/"full_attention"; the Hub's Granite
        # 4.0-H configs (and the converter, which looks for "attention") use "mamba"/"attention".
        saved["layer_types"] = cfg["layer_types"]
        cfg_path.write_text(json.dumps(saved, indent=2))


def convert(llama: Path, hf: Path, dst: Path) -> None:
    wrapper = dst.parent / "convert_wrapper.py"
    wrapper.write_text(CONVERT_WRAPPER)
    env = {**__import__("os").environ, "LLAMA_TREE": str(llama)}
    if ARCHS[hf.name[3:]]["model_type"] in ("nemotron_h", "granitemoehybrid"):
        # AutoConfig of transformers 5 adds NemotronHConfig's MoE defaults back (the converter then
        # writes the MoE architecture with no MLP widths), and remaps Granite's layer names; the
        # converter reads the Hub's form of the file as written.
        env["RAW_CONFIG"] = "1"
    # transformers builds no multi-token-prediction layers, so none are exported (the Hub's Qwen3-Next
    # checkpoints hold one; the converter then adds it as an extra block)
    extra = ["--no-mtp"] if ARCHS[hf.name[3:]]["model_type"] in NO_MTP else []
    r = subprocess.run([sys.executable, str(wrapper), "x", str(hf), "--outtype", "f16", "--outfile", str(dst), *extra],
                       capture_output=True, text=True, env=env)
    if r.returncode:
        raise RuntimeError(f"convert {hf.name}: " + "\n".join((r.stderr or r.stdout).splitlines()[-8:]))


def tensor_table(llama: Path, path: Path) -> list:
    sys.path.insert(0, str(llama / "gguf-py"))
    import gguf

    rd = gguf.GGUFReader(str(path))
    return [[t.name, [int(x) for x in t.shape], t.tensor_type.name] for t in rd.tensors]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama", required=True, type=Path)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "llama_cpp_hybrid.json")
    ap.add_argument("--archs", default=",".join(ARCHS))
    ap.add_argument("--ftypes", default=",".join(FTYPES))
    ap.add_argument("--spread-ftypes", default="Q4_K_M")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="lcpp-hybrid-"))
    work.mkdir(parents=True, exist_ok=True)
    llama = args.llama.resolve()
    exe = base.build_probe(llama, work)
    prev = json.loads(args.out.read_text()) if args.out.exists() else {"cases": [], "tensors": {}, "archs": {}}
    names = args.archs.split(",")
    cases = [c for c in prev["cases"] if c["arch"] not in names]
    tensors = {k: v for k, v in prev.get("tensors", {}).items() if k.split("/")[0] not in names}
    archs = {k: v for k, v in prev.get("archs", {}).items() if k not in names}
    for name in names:
        archs[name] = ARCHS[name]
        f16 = work / f"{name}-F16.gguf"
        try:
            if not f16.exists():
                hf = work / f"hf-{name}"
                if not (hf / "config.json").exists():
                    make_hf(name, hf)
                convert(llama, hf, f16)
        except Exception as e:  # noqa: BLE001
            cases.append({"arch": name, "ftype": "F16", "error": str(e).splitlines()[-1][:300]})
            print(name, "failed:", e, flush=True)
            continue
        for ftype in args.ftypes.split(","):
            path = f16 if ftype == "F16" else work / f"{name}-{ftype}.gguf"
            if not path.exists():
                try:
                    base.quantize(llama, exe, f16, path, ftype)
                except subprocess.CalledProcessError as e:
                    text = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace")
                    why = [ln for ln in text.splitlines() if "error" in ln.lower()]
                    cases.append({"arch": name, "ftype": ftype, "error": (why or ["quantization failed"])[-1].strip()})
                    path.unlink(missing_ok=True)
                    continue
            tensors[f"{name}/{ftype}"] = tensor_table(llama, path)
            for st in (SPREAD if ftype in args.spread_ftypes.split(",") else [BASE]):
                res = base.probe(exe, path, st)
                keys = ("n_ctx", "n_batch", "n_ubatch", "n_seq_max", "flash_attn", "cache_type_k", "cache_type_v",
                        "kv_unified", "swa_full")
                cases.append({"arch": name, "ftype": ftype, "request": dict(zip(keys, st)), **res})
                print(name, ftype, st, res.get("error") or
                      [(b["buft"], b["model"], b["context"], b["compute"]) for b in res["buffers"]], flush=True)
        write(args, llama, archs, cases, tensors)
    write(args, llama, archs, cases, tensors)


def write(args, llama: Path, archs: dict, cases: list, tensors: dict) -> None:
    import importlib.metadata as md

    out = {
        "generator": "tests/reference/generate_llama_cpp_hybrid.py (probe: tests/reference/llama_cpp_probe.cpp)",
        "llama_cpp": {**base.build_info(llama), "source": "llama-cpp-python 0.3.36 sdist, vendor/llama.cpp",
                      "build": "CPU only: -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release",
                      "mode": "no_alloc projection (what llama-fit-params and --fit measure), n_gpu_layers 0, no mmap"},
        "made_with": {"torch": md.version("torch"), "transformers": md.version("transformers"),
                      "converter": "vendored convert_hf_to_gguf.py --outtype f16 (dummy SentencePiece vocabulary)",
                      "quantizer": "llama-quantize (no imatrix)"},
        "archs": archs,
        "tensors": tensors,
        "cases": cases,
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", args.out, len(cases), "cases", flush=True)


if __name__ == "__main__":
    main()
