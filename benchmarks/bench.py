"""Performance targets of issue #3, measured (not asserted: these machines are noisy).

- `import vramkit` adds under 150 ms to Python's start-up;
- `vramkit infer ... --json` takes under 300 ms end to end;
- a vectorised sweep of 10,000 (context, batch) points takes under 100 ms.

Run: python benchmarks/bench.py [--runs N]. Prints medians (min-max) of whole-process timings,
measured with subprocess and time.perf_counter, and checks that import vramkit pulls in no
pandas, altair or ipywidgets.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def whole_process(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, capture_output=True, check=True)  # warm-up: file cache, .pyc
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return times


def describe(times: list[float]) -> str:
    ms = sorted(1000 * t for t in times)
    return f"median {statistics.median(ms):7.1f} ms  (min {ms[0]:.1f}, max {ms[-1]:.1f}, n={len(ms)})"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=15)
    runs = p.parse_args().runs
    py = sys.executable

    bare = whole_process([py, "-c", "pass"], runs)
    imp = whole_process([py, "-c", "import vramkit"], runs)
    added = statistics.median(imp) - statistics.median(bare)
    print(f"python -c pass              {describe(bare)}")
    print(f"python -c 'import vramkit'  {describe(imp)}")
    print(f"import vramkit adds         {1000 * added:7.1f} ms (target < 150 ms)")

    heavy = subprocess.run([py, "-c", "import sys, vramkit, vramkit.cli, vramkit.fit, vramkit.speed; "
                            "print(sorted(m for m in ('pandas', 'altair', 'ipywidgets') if m in sys.modules))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    print(f"heavy modules after import  {heavy} (target: [])")

    cli = whole_process([py, "-m", "vramkit", "infer", "llama-3.1-8b", "--context", "8192", "--gpu", "rtx-4090",
                         "--json"], runs)
    print(f"vramkit infer ... --json    {describe(cli)} (target < 300 ms)")

    # Issue 12: a vLLM question stays interactive (target: under 100 ms above Python's own start-up).
    for name, argv in [("infer vllm 8B on H100", ["infer", "llama-3.1-8b", "--context", "8192"]),
                       ("fit vllm 70B, 16 x 8k", ["fit", "llama-3-70b", "--context", "8192", "--batch", "16"])]:
        t = whole_process([py, "-m", "vramkit", *argv, "--engine", "vllm", "--gpu", "h100-sxm5", "--json"], runs)
        print(f"{name:<27} {describe(t)}; {1000 * (statistics.median(t) - statistics.median(bare)):.0f} ms "
              "above python -c pass (target < 100 ms)")

    import numpy as np

    from vramkit import load_model
    from vramkit.inference import kv_cache_bytes_grid

    for name in ("llama-3.1-8b", "gemma-3-27b", "deepseek-v3"):
        spec = load_model(name)
        ctx, batch = np.meshgrid(np.linspace(1, 131072, 100, dtype=np.int64), np.arange(1, 101))
        sweep = []
        for _ in range(runs):
            t = time.perf_counter()
            kv_cache_bytes_grid(spec, ctx, batch)
            sweep.append(time.perf_counter() - t)
        print(f"10,000-point KV sweep {name:<13} {describe(sweep)} (target < 100 ms)")


if __name__ == "__main__":
    main()
