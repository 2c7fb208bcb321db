"""Interactive-speed targets (issues 3 and 14), measured side by side with Python's own start-up.

- every CLI command adds under 100 ms to `python -c pass`;
- 10,000 `infer_memory` calls of any engine and weight format take under 0.5 s;
- `fit` takes under 50 ms in-process;
- `import vramkit` pulls in no numpy, pandas, altair, ipywidgets or gguf; a 10,000-point KV sweep < 100 ms.

Run: python benchmarks/bench.py [--runs N] [--quick] [--json]. Each figure is the minimum and the
median over N runs, of wall-clock time and of CPU time (user + system: on a shared, loaded machine
CPU time is the steadier figure; the minimum is the least disturbed run). Whole-process timings use
subprocess; in-process ones time.perf_counter and time.process_time. The engines are being rewritten:
the table of calls below names engines and formats by the CLI's spelling, so it re-runs as they change.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI_COMMANDS = [
    ["params", "llama-3.1-8b"],
    ["infer", "llama-3.1-8b", "--context", "8192", "--gpu", "rtx-4090"],
    ["infer", "llama-3.1-8b", "--context", "8192", "--weights", "Q4_K_M", "--engine", "llama.cpp"],
    ["fit", "llama-3-70b", "--context", "8192", "--batch", "16", "--engine", "vllm", "--gpu", "h100-sxm5"],
    ["infer", "deepseek-v3", "--context", "32k", "--weights", "q4_k_m", "--engine", "llama.cpp"],
    ["infer", "qwen3-30b-a3b", "--context", "32k", "--engine", "vllm", "--gpu", "h100-sxm5"],
    ["fit", "llama-3.1-8b", "--gpu", "rtx-4090"],
    ["fit", "qwen3-8b", "--gpu", "rtx-3060-12gb", "--weights", "q4_k_m", "--engine", "llama.cpp"],
    ["train", "llama-3.1-8b", "--seq", "2k", "--qlora", "--lora-rank", "16", "--gpu", "rtx-4090"],
    ["models"], ["gpus"], ["formats"],
]
# (engine, weights) pairs for the 10,000-call loop: every engine, 16-bit and quantized formats.
CALLS = [("transformers", "bf16"), ("transformers", "nf4"), ("transformers", "int8"), ("transformers", "fp8"),
         ("vllm", "bf16"), ("vllm", "fp8"), ("llama.cpp", "Q4_K_M"), ("llama.cpp", "Q8_0"), ("llama.cpp", "q2_k"),
         ("mlx", "bf16"), ("mlx", "mlx-4bit")]
TARGET_CLI_MS, TARGET_CALLS_S, TARGET_FIT_MS = 100, 0.5, 50


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def whole_process(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds) of each of `runs` runs of `argv`, after one warm-up run."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run(argv, capture_output=True, check=True, env=env)  # warm-up: file cache, .pyc
    walls, cpus = [], []
    for _ in range(runs):
        c, t = _cpu_children(), time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, env=env)
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu_children() - c)
    return walls, cpus


def in_process(fn, runs: int) -> tuple[list[float], list[float]]:
    fn()  # warm-up: caches and lazy imports, as in a notebook or a widget after its first answer
    walls, cpus = [], []
    for _ in range(runs):
        c, t = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return walls, cpus


def ms(xs: list[float]) -> str:
    return f"min {1000 * min(xs):7.1f}  median {1000 * statistics.median(xs):7.1f} ms"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--quick", action="store_true", help="fewer runs and calls (a smoke test)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    a = p.parse_args()
    runs = 3 if a.quick else a.runs
    n_calls = 1000 if a.quick else 10_000
    py = sys.executable
    sys.path.insert(0, str(ROOT))
    report: dict = {"cli": {}, "calls": {}, "fit": {}, "ok": True}

    bare_wall, bare_cpu = whole_process([py, "-c", "pass"], runs)
    print(f"python -c pass                       wall {ms(bare_wall)} | cpu {ms(bare_cpu)}")
    imp_wall, imp_cpu = whole_process([py, "-c", "import vramkit"], runs)
    print(f"python -c 'import vramkit'           wall {ms(imp_wall)} | cpu {ms(imp_cpu)}")
    heavy = subprocess.run([py, "-c", "import sys, vramkit, vramkit.cli, vramkit.fit, vramkit.speed; print(sorted("
                            "m for m in ('numpy', 'pandas', 'altair', 'ipywidgets', 'gguf', 'huggingface_hub') "
                            "if m in sys.modules))"], capture_output=True, text=True, check=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout.strip()
    print(f"heavy modules after import           {heavy} (target: [])")
    report["heavy_modules"] = heavy
    report["ok"] &= heavy == "[]"

    print(f"\nCLI commands, added to python -c pass (min over {runs} runs; target < {TARGET_CLI_MS} ms):")
    for argv in CLI_COMMANDS:
        wall, cpu = whole_process([py, "-m", "vramkit", *argv, "--json"], runs)
        add_wall, add_cpu = 1000 * (min(wall) - min(bare_wall)), 1000 * (min(cpu) - min(bare_cpu))
        ok = add_cpu < TARGET_CLI_MS
        report["ok"] &= ok
        report["cli"][" ".join(argv)] = {"added_wall_ms": round(add_wall, 1), "added_cpu_ms": round(add_cpu, 1)}
        print(f"  {' '.join(argv)[:72]:<72} +{add_wall:6.1f} ms wall, +{add_cpu:6.1f} ms cpu {'ok' if ok else 'SLOW'}")

    from vramkit import load_model
    from vramkit.fit import fit
    from vramkit.inference import infer_memory, kv_cache_bytes_grid

    print(f"\n{n_calls:,} infer_memory calls (contexts varying; target < {TARGET_CALLS_S} s per 10,000):")
    for model in ("llama-3.1-8b", "qwen3-30b-a3b", "gemma-3-27b"):
        spec = load_model(model)
        for engine, weights in CALLS:
            def loop():
                for i in range(n_calls):
                    infer_memory(spec, 1024 + i, 1 + i % 8, weights=weights, engine=engine,
                                 gpu="apple-m2-max-96gb" if engine == "mlx" else "rtx-4090")  # MLX runs on Apple only
            wall, cpu = in_process(loop, 1 if a.quick else 3)
            per10k_wall, per10k_cpu = min(wall) * 10_000 / n_calls, min(cpu) * 10_000 / n_calls
            ok = per10k_cpu < TARGET_CALLS_S
            report["ok"] &= ok
            report["calls"][f"{model} {engine} {weights}"] = {"wall_s": round(per10k_wall, 3), "cpu_s": round(per10k_cpu, 3)}
            print(f"  {model:<14} {engine:<12} {weights:<7} {per10k_wall:6.3f} s wall, {per10k_cpu:6.3f} s cpu "
                  f"{'ok' if ok else 'SLOW'}")

    print(f"\nfit in-process (a fresh spec each run: no answer reused; target < {TARGET_FIT_MS} ms):")
    for model, gpu, kw in (("llama-3.1-8b", "rtx-4090", {}), ("qwen3-8b", "rtx-3060-12gb",
                                                             {"weights": "q4_k_m", "engine": "llama.cpp"}),
                           ("deepseek-v3", "h100-sxm5", {"engine": "vllm"}), ("gemma-3-27b", "rtx-4090", {})):
        wall, cpu = in_process(lambda: fit(load_model(model).with_changes(), gpu, 8192, **kw), runs)
        ok = 1000 * min(cpu) < TARGET_FIT_MS
        report["ok"] &= ok
        report["fit"][f"{model} {gpu} {kw}"] = {"wall_ms": round(1000 * min(wall), 1), "cpu_ms": round(1000 * min(cpu), 1)}
        print(f"  {model:<14} {gpu:<14} {str(kw):<44} wall {ms(wall)} | cpu {ms(cpu)} {'ok' if ok else 'SLOW'}")

    import numpy as np

    print("\n10,000-point KV sweep (target < 100 ms):")
    for name in ("llama-3.1-8b", "gemma-3-27b", "deepseek-v3"):
        spec = load_model(name)
        ctx, batch = np.meshgrid(np.linspace(1, 131072, 100, dtype=np.int64), np.arange(1, 101))
        wall, cpu = in_process(lambda: kv_cache_bytes_grid(spec, ctx, batch), runs)
        print(f"  {name:<14} wall {ms(wall)} | cpu {ms(cpu)}")

    load = os.getloadavg()[0]
    print(f"\nload average {load:.1f} on {os.cpu_count()} CPUs; all targets {'met' if report['ok'] else 'NOT met'}")
    report["load_average"] = load
    if a.json:
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
