"""MODEL names and checkpoint headers: catalog names, config paths, the local Hub cache, safetensors, GGUF."""
import json

import numpy as np
import pytest

from vramkit import catalog, load_model
from vramkit.errors import VramkitError
from vramkit.sources import gguf_tensors, safetensors_params


def test_hub_id_read_from_local_cache_only(tmp_path, monkeypatch):
    cfg = catalog.model_entry("qwen3-0.6b")["config"]
    snap = tmp_path / "models--Qwen--Qwen3-0.6B" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps(cfg))
    refs = tmp_path / "models--Qwen--Qwen3-0.6B" / "refs"
    refs.mkdir()
    (refs / "main").write_text("abc123")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path))
    assert load_model("Qwen/Qwen3-0.6B").params() == catalog.model_entry("qwen3-0.6b")["published_params"]
    with pytest.raises(VramkitError, match="not in the local Hugging Face cache"):
        load_model("nobody/nothing")


def test_safetensors_header_counts(tmp_path):
    from safetensors.numpy import save_file

    save_file({"a": np.zeros((3, 5), np.float32), "b": np.zeros((7,), np.float16)}, str(tmp_path / "m-1.safetensors"))
    save_file({"c": np.zeros((2, 2, 2), np.int8)}, str(tmp_path / "m-2.safetensors"))
    d = safetensors_params(tmp_path)
    assert d["params"] == 15 + 7 + 8
    assert d["bytes"] == 15 * 4 + 7 * 2 + 8
    assert d["by_dtype"] == {"F32": 15, "F16": 7, "I8": 8}
    with pytest.raises(VramkitError, match="not a safetensors file"):
        (tmp_path / "bad.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{nope")
        safetensors_params(tmp_path / "bad.safetensors")


def test_gguf_header_counts(tmp_path):
    import gguf

    path = tmp_path / "tiny.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tensor("token_embd.weight", np.zeros((64, 32), np.float32))
    w.add_tensor("output_norm.weight", np.zeros((32,), np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    d = gguf_tensors(path)
    assert d["architecture"] == "llama"
    assert d["params"] == 64 * 32 + 32
    assert d["by_type"] == {"F32": [2048, 8192], "F16": [32, 64]}
    with pytest.raises(VramkitError):
        gguf_tensors(tmp_path / "missing.gguf")


@pytest.mark.parametrize("wrapper,text", [("gemma3", "gemma-3-27b"), ("llava", "llama-3.1-8b"),
                                          ("mistral3", "mistral-7b-v0.1")])
def test_multimodal_wrapper_reads_its_text_config(wrapper, text):
    """Gemma 3, LLaVA, Mistral 3 configs nest the language model under text_config: vramkit reads it as
    the language model (with the wrapper's head tying) and adds the vision tower and projector."""
    inner = dict(catalog.model_entry(text)["config"])
    if wrapper == "gemma3":
        inner.pop("model_type")  # Gemma 3's text_config may omit it; the wrapper's type implies gemma3_text
    tie = load_model(text).tie_word_embeddings
    outer = {"model_type": wrapper, "text_config": inner, "vision_config": {"hidden_size": 1152},
             "tie_word_embeddings": tie}
    spec = load_model(outer)
    assert spec.language_model_params() == load_model(text).params()
    assert spec.params() > spec.language_model_params() and spec.multimodal == wrapper
