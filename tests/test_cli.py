"""The command line: the JSON contract of DESIGN.md, and one clear line with exit code 2 for bad input."""
import json
import subprocess
import sys

import pytest

from vramkit import catalog
from vramkit.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_params_json_contract(capsys):
    d = run_json(capsys, "params", "llama-3-70b")
    assert d["params"] == catalog.model_entry("llama-3-70b")["published_params"]
    assert d["active_params"] == d["params"]
    assert sum(d["breakdown"].values()) == d["params"]


def test_params_reads_a_config_path(capsys, tmp_path):
    cfg = dict(catalog.model_entry("qwen3-0.6b")["config"])
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    by_file = run_json(capsys, "params", str(tmp_path / "config.json"))
    by_dir = run_json(capsys, "params", str(tmp_path))
    assert by_file["params"] == by_dir["params"] == catalog.model_entry("qwen3-0.6b")["published_params"]


INFER_KEYS = {"weights_bytes", "kv_cache_bytes", "activation_bytes", "overhead_bytes", "total_bytes"}


@pytest.mark.parametrize("extra", [[], ["--gpu", "rtx-4090"], ["--engine", "vllm", "--gpu", "h100-sxm5"],
                                   ["--engine", "llama.cpp", "--weights", "q4_k_m", "--kv-dtype", "q8_0"]],
                         ids=["plain", "gpu", "vllm", "llamacpp"])
def test_infer_json_schema_is_stable(capsys, extra):
    d = run_json(capsys, "infer", "llama-3.1-8b", "--context", "8192", *extra)
    assert INFER_KEYS <= set(d)
    assert all(isinstance(d[k], int) for k in INFER_KEYS)
    assert d["total_bytes"] == sum(d[k] for k in INFER_KEYS - {"total_bytes"})
    plain = run_json(capsys, "infer", "llama-3.1-8b", "--context", "8192")
    assert set(d) == set(plain)  # one schema whatever the flags


def test_infer_context_suffix(capsys):
    assert run_json(capsys, "infer", "llama-3.1-8b", "--context", "8k")["context"] == 8192


def test_fit_and_listings(capsys):
    d = run_json(capsys, "fit", "llama-3.1-8b", "--gpu", "rtx-4090", "--context", "8192")
    assert d["fits"] is True and d["max_context"] >= 8192 and d["max_batch"] >= 1
    assert len(run_json(capsys, "models")["models"]) == len(catalog.model_names())
    assert len(run_json(capsys, "gpus")["gpus"]) >= 38


def test_human_tables(capsys):
    code, out, _ = run(capsys, "infer", "llama-3.1-8b", "--context", "4096", "--gpu", "4090")
    assert code == 0 and "GiB" in out and "fits" in out


BAD = {
    "unknown_model": (["params", "llama3-8b"], "did you mean 'llama-3-8b'"),
    "unknown_dtype": (["infer", "llama-3.1-8b", "--context", "10", "--weights", "bf61"], "unknown dtype 'bf61'"),
    "unknown_kv_dtype": (["infer", "llama-3.1-8b", "--context", "10", "--kv-dtype", "fp9"], "unknown dtype"),
    "unknown_gpu": (["infer", "llama-3.1-8b", "--context", "10", "--gpu", "rtx-4099"], "did you mean 'rtx-4090'"),
    "unknown_engine": (["infer", "llama-3.1-8b", "--context", "10", "--engine", "vlm"], "did you mean 'vllm'"),
    "zero_context": (["infer", "llama-3.1-8b", "--context", "0"], "--context"),
    "negative_batch": (["infer", "llama-3.1-8b", "--context", "10", "--batch", "-1"], "--batch"),
    "missing_context": (["infer", "llama-3.1-8b"], "--context"),
    "bad_headroom": (["fit", "llama-3.1-8b", "--gpu", "4090", "--headroom", "1.5"], "--headroom"),
    "unknown_command": (["paramz", "x"], "invalid choice"),
    "missing_file": (["params", "./nowhere/config.json"], "no such file"),
}


@pytest.mark.parametrize("argv,expect", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_and_exit_2(capsys, argv, expect):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and expect in err, err


def _config(tmp_path, text):
    path = tmp_path / "config.json"
    path.write_text(text)
    return str(path)


BAD_CONFIGS = {
    "truncated": ('{"model_type": "llama", "hidden_size": 4096,', "not valid JSON"),
    "not_an_object": ("[1, 2, 3]", "expected a JSON object"),
    "unknown_model_type": ('{"model_type": "lama"}', "unknown model_type 'lama'"),
    "missing_model_type": ('{"hidden_size": 8}', "missing field 'model_type'"),
    "missing_field": ('{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, '
                      '"num_hidden_layers": 2, "vocab_size": 100}', "missing field 'intermediate_size'"),
    "zero_size": ('{"model_type": "llama", "hidden_size": 0, "num_attention_heads": 4, "num_hidden_layers": 2, '
                  '"vocab_size": 100, "intermediate_size": 10}', "field 'hidden_size' must be a positive integer"),
    "negative_size": ('{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": -2, '
                      '"vocab_size": 100, "intermediate_size": 10}', "'num_hidden_layers' must be a positive integer"),
    "string_size": ('{"model_type": "llama", "hidden_size": "64", "num_attention_heads": 4, "num_hidden_layers": 2, '
                    '"vocab_size": 100, "intermediate_size": 10}', "'hidden_size' must be a positive integer"),
}


@pytest.mark.parametrize("text,expect", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_config_is_one_line_naming_the_file(capsys, tmp_path, text, expect):
    path = _config(tmp_path, text)
    code, out, err = run(capsys, "params", path)
    assert code == 2 and err.count("\n") == 1
    assert expect in err and "config.json" in err, err


def test_real_process_exit_code_and_no_traceback(tmp_path):
    path = _config(tmp_path, '{"model_type": "llama", "hidden_size": 4096,')
    p = subprocess.run([sys.executable, "-m", "vramkit", "params", path], capture_output=True, text=True)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1
