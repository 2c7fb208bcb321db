"""Check vramkit's dependency floors: install the lowest versions in a scratch venv, run the core tests.

The floors in pyproject.toml are the versions this script has really run, not guesses. It makes a
fresh virtualenv, installs the pinned minimum of every dependency (core and extras) plus pytest and
hypothesis, puts this checkout on PYTHONPATH, and runs the tests that need no book stack.

Run:  python tools/check_floors.py [--python python3.11] [--pin numpy==1.23.5 ...] [--keep DIR]
Exit code 0 when every core test passes at those versions. The README says which floors were found.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The lowest versions tried that pass (see README, "Dependency floors").
FLOORS = {
    "numpy": "1.23.5",          # core
    "ml_dtypes": "0.5.0",       # core (0.4 lacks float6_e2m3fn / float4_e2m1fn / float8_e8m0fnu)
    "huggingface_hub": "0.30.0",  # the [files] extra: Hub ids from the local cache
}
# Test tools, not vramkit's dependencies (safetensors and gguf write the test checkpoints; vramkit
# reads both formats itself): any recent release.
TEST_TOOLS = ["pytest", "hypothesis", "safetensors", "gguf"]
CORE_TESTS = ["tests/test_dtypes.py", "tests/test_quantize.py", "tests/test_inference.py", "tests/test_cli.py",
              "tests/test_sources.py", "tests/test_fit.py", "tests/test_hardware.py", "tests/test_training.py",
              "tests/test_reference_static.py", "tests/test_robust.py", "tests/test_fuzz.py"]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--python", default=sys.executable, help="interpreter to build the venv from")
    p.add_argument("--pin", action="append", default=[], help="override a floor, e.g. numpy==1.24.0")
    p.add_argument("--keep", default=None, help="venv folder to (re)use instead of a temporary one")
    a = p.parse_args()
    pins = dict(FLOORS)
    for spec in a.pin:
        name, _, version = spec.partition("==")
        pins[name] = version
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(a.keep or Path(tmp) / "venv")
        if not (venv / "bin" / "python").exists():
            subprocess.run([a.python, "-m", "venv", str(venv)], check=True)
        py = str(venv / "bin" / "python")
        reqs = [f"{k}=={v}" for k, v in pins.items()] + TEST_TOOLS
        print("installing:", " ".join(reqs), flush=True)
        subprocess.run([py, "-m", "pip", "install", "-q", *reqs], check=True)
        tests = [t for t in CORE_TESTS if (ROOT / t).exists()]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        # -o addopts= : the project's addopts name nbval options, which this venv does not have.
        r = subprocess.run([py, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
                            "--hypothesis-profile=loaded", *tests],
                           cwd=ROOT, env=env)
        subprocess.run([py, "-m", "pip", "freeze"], check=False)
        return r.returncode


if __name__ == "__main__":
    raise SystemExit(main())
