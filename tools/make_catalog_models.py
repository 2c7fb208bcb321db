"""One-off builder of vramkit/catalog/models/*.json from the reference data (kept for provenance).

Each catalog entry holds a config.json as Hugging Face publishes it (keys and model_type that
transformers reads), where it came from, and the published parameter count to check against.
Run: python tools/make_catalog_models.py REFERENCE/models.json
"""
import json
import sys
from pathlib import Path

TYPES = {
    "gpt2": "gpt2", "llama": "llama", "mistral": "mistral", "mixtral": "mixtral", "qwen2.5": "qwen2",
    "qwen3-30b": "qwen3_moe", "qwen3-235b": "qwen3_moe", "qwen3": "qwen3", "gemma-2": "gemma2",
    "gemma-3": "gemma3_text", "phi-3": "phi3", "deepseek-v3": "deepseek_v3", "gpt-oss": "gpt_oss",
    "olmo-2": "olmo2",
}
DROP = {"layer_pattern", "weight_dtype", "vocab_size_hf", "rope_theta_global", "rope_theta_local", "shared_experts"}


def model_type(name):
    return next(t for prefix, t in TYPES.items() if name.startswith(prefix))


def main(ref):
    out = Path(__file__).resolve().parents[1] / "vramkit" / "catalog" / "models"
    for m in json.load(open(ref))["models"]:
        name = m["id"].split(" ")[0]
        cfg = {"model_type": model_type(name)}
        cfg.update({k: v for k, v in m["config"].items() if k not in DROP})
        t = cfg["model_type"]
        if t == "gpt2":
            cfg = {"model_type": "gpt2", "n_embd": cfg["hidden_size"], "n_layer": cfg["num_hidden_layers"],
                   "n_head": cfg["num_attention_heads"], "n_positions": cfg["n_positions"],
                   "vocab_size": cfg["vocab_size"], "tie_word_embeddings": True}
        if t == "qwen2":
            cfg["use_sliding_window"] = False
        if t == "gemma3_text":
            cfg["sliding_window_pattern"] = 6
        if t == "deepseek_v3":
            cfg.pop("num_nextn_predict_layers", None)  # the MTP layer is not built by transformers
        entry = {
            "name": name,
            "hf_repo": m["hf_repo"],
            "architecture": m.get("arch_type", ""),
            "config": cfg,
            "published_params": m["params_total"],
            "sources": m.get("config_sources", []) + m.get("params_sources", []),
            "notes": m.get("notes", ""),
        }
        (out / f"{name}.json").write_text(json.dumps(entry, indent=1, ensure_ascii=False) + "\n")
        print(name)


if __name__ == "__main__":
    main(sys.argv[1])
