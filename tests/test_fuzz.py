"""Property-based fuzzing of everything a user can type: configs of every family, CLI argument vectors,
safetensors and GGUF headers. Every input either gives a valid answer (int bytes >= 0) or the
library's VramkitError / exit code 2 with one stderr line; each case runs under a time limit (SIGALRM)
and an address-space limit (RLIMIT_AS), so a hang or a runaway allocation fails the case.

Deterministic (derandomize=True): the same inputs every run, so CI cannot flake; raise FUZZ_SCALE to
try more (e.g. FUZZ_SCALE=10 runs ten times as many examples per group).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from vramkit import catalog, load_model
from vramkit.cli import main
from vramkit.errors import VramkitError
from vramkit.inference import ENGINES, infer_memory, kv_cache_bytes
from vramkit.sources import gguf_tensors, safetensors_params

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
COUNTS: dict[str, int] = {}  # inputs tried per group, printed at the end of the session


def fuzz_settings(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=5000, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


class Hang(Exception):
    pass


def _vm_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def bounded(seconds: float = 4, extra_memory: int = 1536 * 2**20):
    """Run the block under a wall-clock alarm and an address-space limit above what is mapped now."""
    fired = []

    def alarm(signum, frame):
        fired.append(True)  # remembered: an exception raised inside a gc callback is swallowed
        raise Hang(f"still running after {seconds} s")

    old_handler = signal.signal(signal.SIGALRM, alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _vm_bytes() + extra_memory
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    if fired:
        raise Hang(f"still running after {seconds} s")


def one_line(message: str) -> None:
    assert message and "\n" not in message and len(message) < 600, message


def count(group: str) -> None:
    COUNTS[group] = COUNTS.get(group, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    print("\nfuzz inputs tried: " + ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items())))


# ---- configs of every family ------------------------------------------------------------------------

MODELS = catalog.model_names()
# Keys the readers look at, present or not in a given config: mutations may add or break any of them.
KNOWN_KEYS = sorted({k for n in MODELS for k, v in catalog.model_entry(n)["config"].items()
                     if not isinstance(v, dict)} | {"text_config", "model_type", "layer_types", "mlp_only_layers",
                                                    "sliding_window_pattern", "use_sliding_window"})
DELETE = object()

leaf = st.one_of(
    st.none(), st.booleans(),
    st.integers(-3, 70), st.integers(-2**70, 2**70),
    st.sampled_from([0, 1, 2, 7, 64, 128, 4096, 4096.0, 4096.5, 2**31, 2**32 + 1, 2**63, 10**9, -100, 1e9]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.sampled_from(["llama", "full_attention", "sliding_attention", "LLLG", "x", ""]),
)
json_value = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=6),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                          max_leaves=12)


@st.composite
def mutated_config(draw):
    name = draw(st.sampled_from(MODELS))
    cfg = json.loads(json.dumps(catalog.model_entry(name)["config"]))
    keys = sorted(set(cfg) | set(KNOWN_KEYS))
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from(keys))
        value = draw(st.one_of(st.just(DELETE), json_value,
                               st.lists(st.sampled_from(["full_attention", "sliding_attention", "x"]),
                                        min_size=0, max_size=70)))
        if value is DELETE:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    if draw(st.booleans()) and draw(st.booleans()):
        cfg = {"model_type": draw(st.sampled_from(["gemma3", "llava", "mistral3", 5, None])), "text_config": cfg}
    return name, cfg


def check_config(cfg) -> None:
    try:
        spec = load_model(cfg)
    except VramkitError as e:
        one_line(str(e))
        return
    params, active = spec.params(), spec.active_params()
    assert isinstance(params, int) and isinstance(active, int) and 0 < active <= params
    assert all(isinstance(v, int) and v >= 0 for v in spec.breakdown().values())
    for engine in ENGINES:
        kv = kv_cache_bytes(spec, 8192, 2, engine=engine)
        assert isinstance(kv, int) and kv >= 0
    for weights, engine in (("bf16", "transformers"), ("q4_k_m", "llama.cpp"), ("nf4", "vllm")):
        try:  # an engine may refuse what it does not run (llama.cpp: hybrid and chunked layers), in one line
            mem = infer_memory(spec, 4096, 1, weights=weights, engine=engine)
        except VramkitError as e:
            one_line(str(e))
            continue
        assert all(isinstance(v, int) and v >= 0 for k, v in mem.to_json().items()
                   if k.endswith("_bytes") and v is not None), mem


@fuzz_settings(400)
@given(mutated_config())
def test_fuzz_configs_of_every_family(case):
    name, cfg = case
    count("configs")
    with bounded():
        check_config(cfg)


@fuzz_settings(60)
@given(st.sampled_from(MODELS), st.sampled_from(["num_hidden_layers", "hidden_size", "vocab_size",
                                                 "intermediate_size", "max_position_embeddings"]),
       st.sampled_from([2048, 10**5, 10**7, 2**40, 2**70]))
def test_fuzz_extreme_sizes_answer_at_once(name, key, value):
    """A valid-looking but absurd size is refused (or answered) at once, never computed for seconds."""
    cfg = json.loads(json.dumps(catalog.model_entry(name)["config"]))
    if key in cfg or key == "num_hidden_layers":
        cfg[key] = value
    count("configs")
    with bounded(seconds=5):
        check_config(cfg)


# ---- CLI argument vectors -------------------------------------------------------------------------------

COMMANDS = ["params", "infer", "fit", "train", "models", "gpus", "formats"]
FLAGS = ["--context", "--batch", "--weights", "--kv-dtype", "--engine", "--gpu", "--headroom", "--seq",
         "--precision", "--optimizer", "--optimizer-impl", "--lora-rank", "--lora-targets", "--zero", "--gpus",
         "--attention", "--gradient-checkpointing", "--qlora", "--offload", "--train", "--json", "--bogus"]
VALUES = st.one_of(
    st.sampled_from(["8k", "4096", "1", "0", "-1", "³", "٣", "1e9", "nan", "inf", "0.5", "", " ", "9" * 30, "128K",
                     "q4_k_m", "bf16", "nf4", "Q8_0", "fp8", "llama.cpp", "vllm", "mlx", "rtx-4090", "4090", "h100",
                     "m3-max-128gb", "adamw", "lion", "sgd", "fused", "eager", "3", "full_shard", "mixed", "attention",
                     "q,v", "all-linear"]),
    st.integers(-10, 10**6).map(str), st.text(max_size=6))
MODEL_ARGS = st.one_of(st.sampled_from(["llama-3.2-1b", "qwen3-30b-a3b", "deepseek-v3", "gemma-3-1b", "gpt2",
                                        "gpt-oss-20b", "/dev/zero", "nobody/nothing", "a--b/c", ".", "x.json"]),
                       st.text(max_size=10))


@st.composite
def argv(draw):
    command = draw(st.sampled_from(COMMANDS))
    out = [command]
    if command in ("params", "infer", "fit", "train") and draw(st.integers(0, 9)):
        out.append(draw(MODEL_ARGS))
    if command == "infer" and draw(st.integers(0, 4)):
        out += ["--context", draw(st.sampled_from(["8k", "1", "32768", "0", "x"]))]
    if command == "train" and draw(st.integers(0, 4)):
        out += ["--seq", draw(st.sampled_from(["2k", "1", "512", "0", "x"]))]
    if command == "fit" and draw(st.integers(0, 4)):
        out += ["--gpu", draw(st.sampled_from(["rtx-4090", "h100-sxm5", "x", "rtx-3060-12gb"]))]
    for _ in range(draw(st.integers(0, 4))):
        flag = draw(st.sampled_from(FLAGS))
        out.append(flag)
        if flag not in ("--gradient-checkpointing", "--qlora", "--offload", "--train", "--json") and draw(st.integers(0, 9)):
            out.append(draw(VALUES))
    return out


@fuzz_settings(250)
@given(argv())
def test_fuzz_cli_arguments(args):
    count("cli")
    out, err = io.StringIO(), io.StringIO()
    with bounded(seconds=8), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as e:  # argparse may only exit through vramkit's one-line error
            raise AssertionError(f"SystemExit({e.code}) for {args}") from None
    if code == 0:
        assert out.getvalue(), args
        if "--json" in args:
            _check_json_bytes(json.loads(out.getvalue()))
    else:
        assert code == 2, (args, err.getvalue())
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("vramkit: error: "), (args, err.getvalue())


def _check_json_bytes(d) -> None:
    if isinstance(d, dict):
        for k, v in d.items():
            if k.endswith("_bytes") and v is not None:
                assert isinstance(v, int) and (v >= 0 or k == "free_bytes"), (k, v)
            _check_json_bytes(v)
    elif isinstance(d, list):
        for v in d:
            _check_json_bytes(v)


# ---- checkpoint headers: random bytes and lying lengths -----------------------------------------------------

u64 = st.one_of(st.integers(0, 64), st.sampled_from([2**31, 2**32, 2**60, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1))
u32 = st.one_of(st.integers(0, 13), st.integers(0, 2**32 - 1))


def _check_file(reader, data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f{suffix}"
        path.write_bytes(data)
        with bounded(seconds=4):
            try:
                result = reader(path)
            except VramkitError as e:
                one_line(str(e))
                return
        assert isinstance(result["params"], int) and result["params"] >= 0
        assert isinstance(result["bytes"], int) and result["bytes"] >= 0


@st.composite
def safetensors_file(draw):
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=300))
    tensors = {}
    for i in range(draw(st.integers(0, 4))):
        tensors[draw(st.text(max_size=4)) + str(i)] = draw(st.one_of(
            st.fixed_dictionaries({"dtype": st.sampled_from(["F32", "F16", "BF16", "I8", "U8", "F8_E4M3", "X", 5]),
                                   "shape": st.lists(st.one_of(st.integers(-2, 8), u64), max_size=4),
                                   "data_offsets": st.lists(st.one_of(st.integers(0, 64), u64), min_size=0, max_size=3)}),
            json_value))
    raw = json.dumps(tensors).encode()
    length = draw(st.one_of(st.just(len(raw)), u64))
    return struct.pack("<Q", length) + raw + draw(st.binary(max_size=80))


@fuzz_settings(300)
@given(safetensors_file())
def test_fuzz_safetensors_headers(data):
    count("safetensors")
    _check_file(safetensors_params, data, ".safetensors")


@st.composite
def gguf_file(draw):
    if draw(st.integers(0, 4)) == 0:
        return b"GGUF" + draw(st.binary(max_size=200))
    endian = draw(st.sampled_from(["<", ">"]))
    p = lambda fmt, *v: struct.pack(endian + fmt, *v)  # noqa: E731
    n_kv = draw(st.integers(0, 3))
    n_t = draw(st.integers(0, 3))
    out = b"GGUF" + p("I", draw(st.sampled_from([3, 2, 1, 4, 2**31]))) + p("Q", draw(st.one_of(st.just(n_t), u64)))
    out += p("Q", draw(st.one_of(st.just(n_kv), u64)))
    for _ in range(n_kv):
        key = draw(st.sampled_from([b"general.architecture", b"general.alignment", b"k"]))
        out += p("Q", draw(st.one_of(st.just(len(key)), u64))) + key
        vtype = draw(st.one_of(st.integers(0, 12), u32))
        out += p("I", vtype)
        if vtype == 8:
            s = draw(st.binary(max_size=10))
            out += p("Q", draw(st.one_of(st.just(len(s)), u64))) + s
        elif vtype == 9:
            out += p("I", draw(st.one_of(st.integers(0, 12), u32))) + p("Q", draw(u64))
        out += draw(st.binary(max_size=16))
    for _ in range(n_t):
        name = b"t"
        dims = draw(st.lists(st.one_of(st.integers(0, 512), u64), max_size=3))
        out += p("Q", 1) + name + p("I", draw(st.one_of(st.just(len(dims)), u32)))
        out += b"".join(p("Q", d) for d in dims)
        out += p("I", draw(st.one_of(st.sampled_from([0, 1, 2, 8, 12, 30, 5]), u32))) + p("Q", draw(u64))
    return out + draw(st.binary(max_size=256))


@fuzz_settings(300)
@given(gguf_file())
def test_fuzz_gguf_headers(data):
    count("gguf")
    _check_file(gguf_tensors, data, ".gguf")


# ---- the Python API: public functions with arguments of any type --------------------------------------

ANY = st.one_of(st.none(), st.booleans(), st.integers(-5, 70), st.integers(-2**70, 2**70), st.floats(),
                st.text(max_size=6), st.lists(st.integers(0, 9), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                                              st.integers(), max_size=2))
COUNT = st.one_of(st.integers(1, 70_000), ANY)
DTYPE = st.one_of(st.sampled_from(["bf16", "fp16", "fp8", "nf4", "int8", "q4_k_m", "Q8_0", "mxfp4", "fp32"]), ANY)
ENGINE = st.one_of(st.sampled_from(list(ENGINES)), ANY)
GPU = st.one_of(st.sampled_from(["rtx-4090", "h100-sxm5", "4090", "m3-max-128gb"]), ANY)
SPEC = st.one_of(st.sampled_from(["llama-3.2-1b", "qwen3-30b-a3b", "deepseek-v3", "gemma-3-1b", "gpt-oss-20b"]), ANY)


def _api_calls():
    from vramkit import dtypes, fit as fit_mod, hardware, speed, training
    from vramkit.inference import kv_cache_bytes_grid, prefill_activation_bytes, weights_bytes

    return {
        "load_model": (load_model, st.tuples(SPEC), st.just({})),
        "kv_cache_bytes": (kv_cache_bytes, st.tuples(SPEC, COUNT, COUNT, DTYPE, ENGINE), st.just({})),
        "weights_bytes": (weights_bytes, st.tuples(SPEC, DTYPE), st.just({})),
        "prefill_activation_bytes": (prefill_activation_bytes, st.tuples(SPEC, COUNT, COUNT), st.just({})),
        "kv_cache_bytes_grid": (kv_cache_bytes_grid, st.tuples(SPEC, st.one_of(st.lists(COUNT, max_size=3), ANY),
                                                               st.one_of(st.lists(COUNT, max_size=3), ANY)), st.just({})),
        "infer_memory": (infer_memory, st.tuples(SPEC, COUNT),
                         st.fixed_dictionaries({}, optional={"batch": COUNT, "weights": DTYPE, "kv_dtype": DTYPE,
                                                             "engine": ENGINE, "gpu": GPU,
                                                             "gpu_memory_utilization": st.one_of(st.floats(0, 1), ANY)})),
        "fit": (fit_mod.fit, st.tuples(SPEC, GPU, COUNT),
                st.fixed_dictionaries({}, optional={"batch": COUNT, "weights": DTYPE, "engine": ENGINE,
                                                    "headroom": st.one_of(st.floats(0, 1), ANY)})),
        "gpu_layers": (fit_mod.gpu_layers, st.tuples(SPEC, GPU, COUNT), st.just({})),
        "train_memory": (lambda spec, **kw: training.train_memory(load_model(spec), **kw), st.tuples(SPEC),
                         st.fixed_dictionaries({"seq": COUNT}, optional={
                             "batch": COUNT, "precision": st.one_of(st.sampled_from(["bf16", "mixed"]), ANY),
                             "optimizer": st.one_of(st.sampled_from(["adamw", "lion", "adamw8bit"]), ANY),
                             "lora_rank": st.one_of(st.integers(0, 64), ANY), "qlora": st.one_of(st.booleans(), ANY),
                             "zero": st.one_of(st.sampled_from([0, 3, "2", "full_shard", "³"]), ANY),
                             "gpus": COUNT, "attention": ANY, "lora_targets": ANY})),
        "get_gpu": (hardware.get_gpu, st.tuples(GPU), st.just({})),
        "custom_gpu": (hardware.custom_gpu, st.tuples(ANY), st.just({})),
        "get_format": (dtypes.get_format, st.tuples(DTYPE), st.just({})),
        "storage_bytes": (dtypes.storage_bytes, st.tuples(COUNT, DTYPE), st.just({})),
        "decode_step": (speed.decode_step, st.tuples(SPEC, GPU, COUNT), st.just({})),
        "prefill": (speed.prefill, st.tuples(SPEC, GPU, COUNT), st.just({})),
    }


API_CALLS = _api_calls()


@fuzz_settings(400)
@given(st.data())
def test_fuzz_public_functions(data):
    name = data.draw(st.sampled_from(sorted(API_CALLS)))
    fn, args, kwargs = API_CALLS[name]
    a, kw = data.draw(args), data.draw(kwargs)
    count("api")
    with bounded(seconds=6):
        try:
            result = fn(*a, **kw)
        except VramkitError as e:
            one_line(str(e))
            return
    _check_result(result, (name, a, kw))


def _check_result(result, where) -> None:
    if isinstance(result, bool) or result is None:
        return
    if isinstance(result, int):
        assert result >= 0, where
    elif hasattr(result, "to_json"):
        _check_json_bytes(result.to_json())
    elif hasattr(result, "__dataclass_fields__"):
        for k in result.__dataclass_fields__:
            v = getattr(result, k)
            if k.endswith("bytes") and v is not None:
                assert isinstance(v, int) and (v >= 0 or "free" in k), (where, k, v)
