"""Issue 14's concrete cases, one row each: bad input gets one stderr line and exit 2 (or the library's
VramkitError), never a hang, a traceback or a wrong number; valid extremes get int bytes >= 0.

Cases that could hang or eat memory run in a subprocess under a timeout and an address-space limit
(`run_bounded`), so a regression fails the test instead of stalling the suite.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vramkit import catalog, load_model
from vramkit.cli import main
from vramkit.errors import VramkitError
from vramkit.inference import infer_memory, kv_cache_bytes, kv_cache_bytes_grid, weights_bytes
from vramkit.model import MAX_LAYERS, ModelSpec
from vramkit.sources import gguf_tensors, safetensors_params

ROOT = Path(__file__).resolve().parent.parent


def cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vramkit: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


def _limits(mem_bytes: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    return apply


def run_bounded(code: str, *, stdin=None, timeout: float = 30, mem: int = 2 * 2**30) -> subprocess.CompletedProcess:
    """`python -c code` with this checkout on the path, under a timeout and an address-space limit."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], stdin=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env, preexec_fn=_limits(mem))


def bounded_cli(*argv, stdin=None, timeout: float = 30) -> tuple[int, str]:
    r = run_bounded(f"import sys; from vramkit.cli import main; sys.exit(main({list(map(str, argv))!r}))",
                    stdin=stdin, timeout=timeout)
    return r.returncode, r.stderr


def config(name: str, **changes) -> dict:
    cfg = json.loads(json.dumps(catalog.model_entry(name)["config"]))
    for k, v in changes.items():
        if v is _DELETE:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    return cfg


_DELETE = object()


def write_config(tmp_path: Path, cfg, name="config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(cfg))
    return path


# ---- hangs and unbounded memory ---------------------------------------------------------------

@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_at_once(device):
    code, err = bounded_cli("params", device)
    assert_one_line_error(code, err, "not a regular file")
    with pytest.raises(VramkitError, match="not a regular file"):
        safetensors_params(device)
    with pytest.raises(VramkitError, match="not a regular file"):
        gguf_tensors(device)


def test_stdin_fed_from_dev_zero_is_refused():
    with open("/dev/zero", "rb") as zero:
        code, err = bounded_cli("params", "/dev/stdin", stdin=zero)
    assert_one_line_error(code, err, "not a regular file")


def test_a_fifo_never_blocks(tmp_path):
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    for argv in (["params", fifo], ["params", tmp_path]):  # the FIFO itself, and a folder holding it
        code, err = bounded_cli(*argv, timeout=20)
        assert_one_line_error(code, err, "FIFO")
    for reader in ("safetensors_params", "gguf_tensors"):
        r = run_bounded(f"from vramkit.sources import {reader}\ntry:\n {reader}({str(fifo)!r})\n"
                        f"except Exception as e: print(type(e).__name__, e)", timeout=20)
        assert r.stdout.startswith("VramkitError") and "not a regular file" in r.stdout, r


def test_a_large_file_as_model_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(5 * 2**30)  # sparse: 5 GB long, no disk used
    code, err = bounded_cli("params", big)
    assert_one_line_error(code, err, "too large")


def test_gguf_claiming_a_huge_array_is_refused_at_once(tmp_path):
    # 60 bytes: magic, version 3, 0 tensors, 1 key, key "a", type ARRAY of UINT8 with 2**60 items.
    body = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"a" + struct.pack("<IIQ", 9, 0, 2**60)
    body += b"\0" * (60 - len(body))
    path = tmp_path / "lie.gguf"
    path.write_bytes(body)
    assert len(body) == 60
    r = run_bounded(f"from vramkit.sources import gguf_tensors\ntry:\n gguf_tensors({str(path)!r})\n"
                    "except Exception as e: print(type(e).__name__, e)", timeout=20, mem=512 * 2**20)
    assert r.stdout.startswith("VramkitError") and "not a GGUF file" in r.stdout, r
    # The same lie for strings and nested arrays.
    for itype in (8, 9):
        path.write_bytes(body.replace(struct.pack("<IIQ", 9, 0, 2**60), struct.pack("<IIQ", 9, itype, 2**60)))
        with pytest.raises(VramkitError, match="not a GGUF file"):
            gguf_tensors(path)


# ---- tracebacks from plausible input ------------------------------------------------------------

@pytest.mark.parametrize("raw, needle", [
    ('{"model_type": "llama", "name": "caf\xe9"}'.encode("latin-1"), "not UTF-8"),
    (json.dumps({"model_type": "llama"}).encode("utf-16"), "UTF-16"),
    (b'{"model_type": "llama"\xff}', "not UTF-8"),
    (json.dumps({"model_type": "llama"}).encode("utf-16-le"), "not valid JSON"),
    (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    (b'{"model_type": "llama", "vocab_size": ' + b"9" * 5000 + b"}", "not usable JSON"),
    (b"", "not valid JSON"),
    (b"[1, 2]", "expected a JSON object"),
])
def test_bad_bytes_in_config_json(tmp_path, capsys, raw, needle):
    path = tmp_path / "config.json"
    path.write_bytes(raw)
    assert_one_line_error(*_code_err(cli("params", path)), needle)


def _code_err(result):
    return result[0], result[2]


def test_utf8_bom_is_read(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(config("llama-3.2-1b")).encode())
    assert load_model(path).params() == load_model("llama-3.2-1b").params()


SLIDING_READERS = [("mistral-7b-v0.1", {}), ("qwen2.5-7b", {"use_sliding_window": True}), ("gemma-2-9b", {}),
                   ("gemma-3-1b", {}), ("gpt-oss-20b", {}), ("exaone-4.0-1.2b", {}), ("phi-3-mini-4k", {})]


@pytest.mark.parametrize("name, extra", SLIDING_READERS)
@pytest.mark.parametrize("window", [-100, 0, 4096.5, True, "x", [4096], {"a": 1}, 2**70])
def test_bad_sliding_window(name, extra, window):
    with pytest.raises(VramkitError, match="sliding_window"):
        load_model(config(name, sliding_window=window, **extra))


@pytest.mark.parametrize("name, extra", SLIDING_READERS)
def test_null_window_means_none_and_bytes_stay_ints(name, extra):
    spec = load_model(config(name, sliding_window=None, **extra))
    assert spec.sliding_window is None
    kv = kv_cache_bytes(spec, 8192)
    assert isinstance(kv, int) and kv > 0


@pytest.mark.parametrize("pattern", [-1, 0, 2.5, True, "LLXG", "", [], {"L": 1}])
def test_bad_exaone4_sliding_window_pattern(pattern):
    with pytest.raises(VramkitError, match="sliding_window_pattern"):
        load_model(config("exaone-4.0-32b", sliding_window_pattern=pattern, layer_types=None))


@pytest.mark.parametrize("only", [5, "x", [-1], [10_000], [1.5], [True], {"a": 1}])
def test_bad_qwen_moe_mlp_only_layers(only):
    with pytest.raises(VramkitError, match="mlp_only_layers"):
        load_model(config("qwen3-30b-a3b", mlp_only_layers=only))


def test_qwen_moe_mlp_only_layers_counts_dense_layers():
    base = load_model("qwen3-30b-a3b")
    dense = load_model(config("qwen3-30b-a3b", mlp_only_layers=[0, 1]))
    assert sum(dense.moe_layers) == sum(base.moe_layers) - 2


@pytest.mark.parametrize("name", ["foo bar/baz", "a--b/c", "x" * 100 + "/y", "org/na$me", "org/name-", "ąę/ść"])
def test_invalid_hub_id_is_one_line(name):
    assert_one_line_error(*_code_err(cli("params", name)), "not a file, a catalog name or a valid Hugging Face repo id")


def test_hub_id_without_the_files_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if not installed
    assert_one_line_error(*_code_err(cli("params", "Qwen/Qwen3-0.6B")), "pip install 'vramkit[files]'")


def test_long_deep_and_forbidden_paths(tmp_path, monkeypatch):
    for name in ["a" * 300 + ".json", str(tmp_path / ("b" * 300) / "config.json"), "/".join(["d"] * 3000),
                 "./" + "e/" * 5000 + "config.json", "nul\0byte.json"]:
        code, _, err = cli("params", name)
        assert_one_line_error(code, err)
        assert len(err) < 400
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    assert_one_line_error(*_code_err(cli("params", loop)), "symbolic links")
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere.json")
    assert_one_line_error(*_code_err(cli("params", dangling)), "no such file")
    # An unreadable folder (root ignores chmod, so the refusal is simulated where it happens).
    real_stat = os.stat

    def forbidden(path, *a, **k):
        if str(path).startswith(str(tmp_path / "locked")):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *a, **k)

    (tmp_path / "locked").mkdir()
    write_config(tmp_path / "locked", config("llama-3.2-1b"))
    monkeypatch.setattr(os, "stat", forbidden)
    assert_one_line_error(*_code_err(cli("params", tmp_path / "locked")), "permission denied")
    assert_one_line_error(*_code_err(cli("params", tmp_path / "locked" / "config.json")), "permission denied")


@pytest.mark.parametrize("model_type", [["llama"], {"a": "llama"}, 5, True, "x" * 10_000])
def test_model_type_of_the_wrong_kind(model_type):
    with pytest.raises(VramkitError, match="model_type"):
        load_model(config("llama-3.2-1b", model_type=model_type))


@pytest.mark.parametrize("layers", [2**70, 1e9, 10**9, 10_000_000, 100_000, MAX_LAYERS + 1, -1, 0, "32", 32.0])
def test_absurd_layer_counts_are_refused_at_once(layers):
    for name in ("llama-3.2-1b", "gemma-3-27b", "gpt2"):
        key = "n_layer" if name == "gpt2" else "num_hidden_layers"
        with pytest.raises(VramkitError, match=key):
            load_model(config(name, **{key: layers}))


def test_giant_ints_anywhere_are_refused():
    for key in ("hidden_size", "vocab_size", "intermediate_size", "num_attention_heads", "head_dim",
                "num_key_value_heads", "max_position_embeddings"):
        with pytest.raises(VramkitError, match=key):
            load_model(config("llama-3.2-1b", **{key: 10**40}))


def test_zero_as_a_unicode_digit():
    for flag, value in (("--zero", "³"), ("--gpus", "٣"), ("--lora-rank", "²"), ("--seq", "١٠")):
        argv = ["train", "llama-3.2-1b", "--seq", "2k", flag, value]
        if flag == "--seq":
            argv = ["train", "llama-3.2-1b", flag, value]
        assert_one_line_error(*_code_err(cli(*argv)))
    assert_one_line_error(*_code_err(cli("infer", "llama-3.2-1b", "--context", "٣")))


def test_kv_grid_never_wraps_to_negative():
    spec = load_model("llama-3.1-405b")
    ctx, batch = np.array([10_000_000, 2**40, 2**61]), np.array([4096, 2**20, 2**20])
    grid = kv_cache_bytes_grid(spec, ctx, batch)
    for c, b, g in zip(ctx.tolist(), batch.tolist(), grid.tolist()):
        assert isinstance(g, int) and g == kv_cache_bytes(spec, c, b) > 0
    small = kv_cache_bytes_grid(spec, [8192], [1])
    assert small.dtype == np.int64 and int(small[0]) == kv_cache_bytes(spec, 8192)
    for bad in ([0], [-5], [1.5], ["x"], [], [True], [float("inf")], [2**63]):
        with pytest.raises(VramkitError):
            kv_cache_bytes_grid(spec, bad, [1])


# ---- silent acceptances ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, changes, needle", [
    ("mixtral-8x7b-v0.1", {"num_experts_per_tok": 9}, "num_experts_per_tok"),
    ("mixtral-8x7b-v0.1", {"num_experts_per_tok": 0}, "num_experts_per_tok"),
    ("qwen3-30b-a3b", {"num_experts_per_tok": 500}, "num_experts_per_tok"),
    ("deepseek-v3", {"num_experts_per_tok": 257}, "num_experts_per_tok"),
    ("gpt-oss-20b", {"num_experts_per_tok": 33}, "num_experts_per_tok"),
    ("deepseek-v3", {"n_group": 7}, "n_group"),
    ("deepseek-v3", {"topk_group": 9}, "topk_group"),
    ("llama-3.1-8b", {"num_key_value_heads": 64}, "num_key_value_heads"),
    ("llama-3.1-8b", {"num_key_value_heads": 5}, "multiple of num_key_value_heads"),
    ("qwen2.5-7b", {"num_key_value_heads": 3}, "multiple of num_key_value_heads"),
    ("llama-3.1-8b", {"num_attention_heads": 31, "num_key_value_heads": 31}, "hidden_size"),
    ("gpt2", {"n_head": 7}, "hidden_size"),
    ("gemma-2-9b", {"num_attention_heads": 17, "num_key_value_heads": 17}, "hidden_size"),
    ("llama-3.2-1b", {"layer_types": ["full_attention"] * 3}, "layer_types"),
    ("gemma-3-1b", {"layer_types": ["sliding_attention"] * 25 + ["bogus"]}, "layer kind"),
    ("gemma-3-1b", {"layer_types": "sliding_attention"}, "layer_types"),
])
def test_inconsistent_configs(name, changes, needle):
    with pytest.raises(VramkitError, match=needle):
        load_model(config(name, **changes))


def test_a_typo_gets_a_did_you_mean():
    cfg = config("llama-3.2-1b", num_hidden_layers=_DELETE, num_hiden_layers=16)
    with pytest.raises(VramkitError, match="did you mean 'num_hiden_layers'"):
        load_model(cfg)


def test_a_bad_spec_built_by_hand_is_refused():
    spec = load_model("llama-3.2-1b")
    for change in ({"num_layers": -1}, {"num_kv_heads": 0}, {"experts_per_token": 3, "num_experts": 2,
                                                             "moe_layers": (True,) * 16}, {"hidden_size": 1.5},
                   {"layer_types": ("full_attention",)}, {"sliding_window": 0}, {"vocab_size": 2**40 + 1}):
        with pytest.raises(VramkitError):
            spec.with_changes(**change)


API_CALLS = [
    lambda: load_model(None), lambda: load_model(5), lambda: load_model(["llama"]), lambda: load_model(""),
    lambda: load_model(b"llama"), lambda: ModelSpec.from_config(3.5),
    lambda: kv_cache_bytes(load_model("llama-3.2-1b"), "x"), lambda: kv_cache_bytes(load_model("llama-3.2-1b"), 0),
    lambda: kv_cache_bytes(load_model("llama-3.2-1b"), True), lambda: kv_cache_bytes(load_model("llama-3.2-1b"), 1.5),
    lambda: kv_cache_bytes(load_model("llama-3.2-1b"), float("inf")),
    lambda: kv_cache_bytes(load_model("llama-3.2-1b"), 10, kv_dtype=None),
    lambda: kv_cache_bytes(load_model("llama-3.2-1b"), 10, kv_dtype=["bf16"]),
    lambda: weights_bytes(load_model("llama-3.2-1b"), 5), lambda: weights_bytes(load_model("llama-3.2-1b"), "q9_k"),
    lambda: infer_memory("llama-3.2-1b", None), lambda: infer_memory("llama-3.2-1b", 8, engine=["vllm"]),
    lambda: infer_memory("llama-3.2-1b", 8, engine="vllm", gpu="4090", gpu_memory_utilization="x"),
    lambda: infer_memory("llama-3.2-1b", 8, gpu=5), lambda: infer_memory("llama-3.2-1b", 8, gpu=None, batch=-1),
    lambda: infer_memory({"model_type": "llama"}, 8),
]


@pytest.mark.parametrize("call", API_CALLS, ids=range(len(API_CALLS)))
def test_public_functions_raise_only_vramkit_error(call):
    with pytest.raises(VramkitError):
        call()


def test_float_contexts_never_give_float_bytes():
    mem = infer_memory("llama-3.2-1b", 4096.0, 2.0, engine="llama.cpp", weights="q4_k_m")
    assert all(isinstance(v, int) for k, v in mem.to_json().items() if k.endswith("_bytes") and v is not None)


# ---- installs ---------------------------------------------------------------------------------------

def test_every_command_runs_without_gguf_safetensors_or_huggingface_hub(tmp_path):
    """A plain `pip install vramkit` (numpy and ml_dtypes only): fit and formats need no gguf."""
    write_config(tmp_path, config("qwen3-0.6b"))
    code = ("import sys\nfor m in ('gguf', 'safetensors', 'huggingface_hub', 'pandas', 'altair'): sys.modules[m] = None\n"
            "from vramkit.cli import main\n"
            f"runs = [['formats'], ['gpus'], ['models'], ['params', {str(tmp_path)!r}],"
            " ['infer', 'llama-3.1-8b', '--context', '8k', '--weights', 'q4_k_m', '--engine', 'llama.cpp'],"
            " ['fit', 'qwen3-8b', '--gpu', 'rtx-4090'], ['train', 'llama-3.2-1b', '--seq', '1k', '--qlora',"
            " '--lora-rank', '8']]\n"
            "sys.exit(max(main(a + ['--json']) for a in runs))")
    r = run_bounded(code, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    r = run_bounded("import sys\nsys.modules['huggingface_hub'] = None\nfrom vramkit.cli import main\n"
                    "sys.exit(main(['params', 'Qwen/Qwen3-0.6B']))")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "vramkit[files]" in r.stderr, r.stderr


def test_dependency_floors_are_the_tested_ones():
    """pyproject's floors are the versions tools/check_floors.py runs the core tests with."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import check_floors
    finally:
        sys.path.pop(0)
    text = (ROOT / "pyproject.toml").read_text()
    for name, version in check_floors.FLOORS.items():
        assert f'"{name}>={version}"' in text, (name, version)
    import ml_dtypes

    for t in ("float6_e2m3fn", "float6_e3m2fn", "float4_e2m1fn", "float8_e8m0fnu"):
        assert hasattr(ml_dtypes, t)  # what 0.4 lacks: the reason the floor is 0.5


def test_ggml_type_table_matches_gguf():
    from gguf.constants import GGML_QUANT_SIZES

    from vramkit.dtypes import GGML_TYPES

    assert {t.value: (t.name, b, s) for t, (b, s) in GGML_QUANT_SIZES.items()} == GGML_TYPES


# ---- checkpoint headers read as their libraries read them ----------------------------------------

@pytest.mark.parametrize("big_endian", [False, True])
def test_gguf_reader_matches_gguf_package(tmp_path, big_endian):
    import gguf

    path = tmp_path / "m.gguf"
    w = gguf.GGUFWriter(str(path), "qwen3", endianess=gguf.GGUFEndian.BIG if big_endian else gguf.GGUFEndian.LITTLE)
    w.add_block_count(2)
    w.add_token_list([f"tok{i}" for i in range(300)])
    w.add_token_scores([0.5] * 300)
    w.add_array("test.nested", [[1, 2], [3]]) if hasattr(w, "add_array") else None
    w.add_string("test.text", "안녕")
    w.add_tensor("token_embd.weight", np.zeros((16, 64), np.float32))
    w.add_tensor("q.weight", np.zeros((4, 34), np.uint8), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("n.weight", np.zeros((64,), np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    ours = gguf_tensors(path)
    reader = gguf.GGUFReader(str(path))
    theirs: dict[str, list[int]] = {}
    for t in reader.tensors:
        e = theirs.setdefault(t.tensor_type.name, [0, 0])
        e[0] += int(t.n_elements)
        e[1] += int(t.n_bytes)
    assert ours["by_type"] == theirs and ours["architecture"] == "qwen3"
    assert ours["by_type"]["Q8_0"] == [4 * 32, 4 * 34]


def test_gguf_with_a_truncated_data_section(tmp_path):
    import gguf

    path = tmp_path / "m.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tensor("token_embd.weight", np.zeros((64, 64), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(VramkitError, match="ends at byte"):
        gguf_tensors(path)


@pytest.mark.parametrize("header, needle", [
    ({"a": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 8]}}, "do not fill"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 2**40]}}, "beyond the data"),
    ({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, "non-negative"),
    ({"a": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}, "lacks dtype"),
    ({"a": [1]}, "not described"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, "overlap"),
])
def test_safetensors_lying_headers(tmp_path, header, needle):
    raw = json.dumps(header).encode()
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 8)
    with pytest.raises(VramkitError, match=needle):
        safetensors_params(path)


def test_safetensors_header_length_beyond_the_file(tmp_path):
    path = tmp_path / "x.safetensors"
    for length in (2**60, 2**64 - 1, 99):
        path.write_bytes(struct.pack("<Q", length) + b"{}")
        with pytest.raises(VramkitError, match="header length"):
            safetensors_params(path)
    path.write_bytes(b"\x01\x02")
    with pytest.raises(VramkitError, match="shorter than"):
        safetensors_params(path)


def test_safetensors_reader_matches_the_library(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    tensors = {"a": np.zeros((3, 5), np.float32), "b": np.zeros((7,), np.float16), "c": np.zeros((0, 4), np.int64),
               "d": np.zeros((2, 3, 4), np.uint8)}
    save_file(tensors, str(tmp_path / "m.safetensors"), metadata={"format": "np"})
    ours = safetensors_params(tmp_path / "m.safetensors")
    with safe_open(str(tmp_path / "m.safetensors"), framework="numpy") as st:
        theirs = {k: st.get_slice(k).get_dtype() for k in st.keys()}
    assert ours["params"] == sum(t.size for t in tensors.values())
    assert ours["bytes"] == sum(t.nbytes for t in tensors.values())
    assert set(ours["by_dtype"]) == set(theirs.values())


def test_range_facts_match_ml_dtypes():
    """`vramkit formats` reads its ranges from a table (no numpy import): every entry is ml_dtypes' own."""
    import ml_dtypes

    from vramkit.dtypes import RANGE_FACTS, np_dtype

    for name, facts in RANGE_FACTS.items():
        dt = np_dtype(name)
        if len(facts) == 2:
            info = ml_dtypes.iinfo(dt)
            assert facts == (float(info.min), float(info.max)), name
        else:
            info = ml_dtypes.finfo(dt)
            assert facts == (float(info.max), float(info.smallest_normal), float(info.smallest_subnormal),
                             float(info.eps)), name


def test_formats_imports_neither_numpy_nor_gguf():
    r = run_bounded("import sys\nfrom vramkit.cli import main\nmain(['formats', '--json'])\n"
                    "print(sorted(m for m in ('numpy', 'ml_dtypes', 'gguf') if m in sys.modules), file=sys.stderr)")
    assert r.returncode == 0 and r.stderr.strip() == "[]", r.stderr


@pytest.mark.parametrize("args", [("x",), (None,), ([[1, 2], [3]],), ({"a": 1},), ([1.0, float("nan")],),
                                  ([1e308, -1e308],), ([1, 2, 3], 0), ([1, 2, 3], "8"), ([1, 2, 3], 8, 10**20),
                                  ([1, 2, 3], 8, 0)])
def test_quantizers_refuse_bad_arrays_and_sizes(args):
    from vramkit import quantize as q

    for fn in (q.absmax_quantize, q.blockwise_quantize, q.zeropoint_quantize):
        with pytest.raises(VramkitError):
            fn(*args)
