"""What the reference generators share besides their measurements: the loop over cases, the
failure list, the fixture's versions and JSON, and the meta-device / FakeTensorMode scaffolding.

Each generator keeps its own model-building and measuring functions; this module only runs them
and writes what they return. Three groups:

- fixtures: `header(__file__, "peft")` (generator path and `versions("peft")`, the head of every
  fixture's meta), `write_json(path, data)`, `cases_of(path)` (the cases a fixture already holds);
- case loops: `wanted(case_id, only)`, `measure(todo, run, out, note)` (one record per case id,
  failures collected, not raised) and `finish(path, meta, out, failures)` (the training fixtures'
  `{"meta": ..., "cases": ...}` document); `run_archs(pairs, run_arch, note)` for the prefill
  generators (several records per architecture and attention);
- configs: `build_config(arch, attention)` (a transformers config from a fixture's arch dict, with
  its attention implementation set);
- static scaffolding: `quiet()`, `meta_model(config)`, `prefill_caches(config, dtype, shapes, record)`,
  `fold(name)` / `folded(named)`, `catalog_configs()`, `vramkit_params(cfg)`.

Needs torch and transformers (imported where used): the reference environment, never the test run.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "vramkit" / "catalog" / "models"


# ---- configs --------------------------------------------------------------------------------

def build_config(arch: dict, attention: str):
    """transformers' config for `arch` (a fixture's dict, `model_type` included), running `attention`."""
    from transformers import AutoConfig

    cfg = dict(arch)
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    config._attn_implementation = attention
    return config


# ---- fixtures -------------------------------------------------------------------------------

def _version(name: str) -> str | None:
    """The module's `__version__` (else its distribution's), None where it does not import."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    version = getattr(module, "__version__", None)
    if version is None:
        try:
            version = importlib.metadata.version(name.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            pass
    return version


def versions(*packages: str) -> dict:
    """torch's and transformers' versions, then each of `packages` (module names; None where one
    does not import)."""
    return {name: _version(name) for name in ("torch", "transformers", *packages)}


def header(script: str, *packages: str) -> dict:
    """The head of a fixture's meta: the generator's path in the repository, then `versions`."""
    return {"generator": f"tests/reference/{Path(script).name}", **versions(*packages)}


def write_json(path: Path, data: dict) -> None:
    """The fixture as every generator writes it: indent 1, a final newline."""
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def cases_of(path: Path) -> dict:
    """The cases a `{"meta", "cases"}` fixture already holds ({} when there is no file yet)."""
    return json.loads(path.read_text())["cases"] if path.exists() else {}


# ---- case loops -----------------------------------------------------------------------------

def wanted(case_id: str, only: Iterable[str]) -> bool:
    """Whether a case runs: no `only` runs all, else the id contains one of them."""
    only = list(only)
    return not only or any(text in case_id for text in only)


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0][:200] if str(e) else ""


def measure(todo: Iterable[tuple], run: Callable[..., dict], out: dict, note: Callable[[dict], str],
            save: Callable[[list], None] | None = None) -> list[str]:
    """For each `(case_id, *args)` of `todo`, `out[case_id] = run(*args)`; a case that raises is
    skipped and listed ("case_id: Error: first line") in the returned failures. `note(record)` is
    the progress line printed after the id; `save(failures)`, when given, runs after every case
    (a long run that is interrupted keeps what it measured)."""
    failures: list[str] = []
    for case_id, *args in todo:
        t0 = time.time()
        try:
            record = run(*args)
        except Exception as e:  # keep going; report which cases failed
            failures.append(f"{case_id}: {type(e).__name__}: {_first_line(e)}")
            print("FAILED", failures[-1], file=sys.stderr)
            continue
        out[case_id] = record
        if save is not None:
            save(failures)
        print(f"{case_id:<40} {note(record)} ({time.time() - t0:.1f} s)", file=sys.stderr)
    return failures


def write_cases(path: Path, meta: dict, out: dict, failures: list) -> None:
    """`{"meta": {**meta, "failures": [...]}, "cases": {id: record, sorted}}`."""
    doc = dict(meta={**meta, "failures": failures}, cases=dict(sorted(out.items())))
    path.write_text(json.dumps(doc, indent=1) + "\n")


def finish(path: Path, meta: dict, out: dict, failures: list) -> int:
    """write_cases, a summary line, and the exit status (1 when any case failed)."""
    write_cases(path, meta, out, failures)
    print(f"wrote {len(out)} cases to {path.name}; {len(failures)} failed", file=sys.stderr)
    return 1 if failures else 0


def run_archs(pairs: Iterable[tuple[str, str]], run_arch: Callable[[str, str], list[dict]],
              note: Callable[[dict], str], refused: dict | None = None) -> list[dict]:
    """The prefill generators' loop: `run_arch(name, attention)` for each pair, its records in order.
    With `refused` (a dict), a pair that raises is recorded there ("name/attention": error) and the
    run goes on; without, the error stops the run."""
    cases = []
    for name, attention in pairs:
        try:
            records = run_arch(name, attention)
        except Exception as e:  # noqa: BLE001 - a family that refuses an attention is recorded
            if refused is None:
                raise
            refused[f"{name}/{attention}"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            print(f"{name:32s} {attention:5s} refused: {refused[f'{name}/{attention}']}", flush=True)
            continue
        for rec in records:
            cases.append(rec)
            print(f"{name:32s} {attention:5s} t={rec['tokens']:5d} b={rec['batch']} "
                  f"act {rec['activation_bytes'] / 2**20:9.3f} MiB  {note(rec)}", flush=True)
    return cases


# ---- static scaffolding ---------------------------------------------------------------------

def quiet() -> None:
    """No warnings and no transformers log lines between the progress lines."""
    import warnings

    import transformers

    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()


def meta_model(config, auto=None, **kwargs):
    """`auto.from_config(config, **kwargs)` (default AutoModelForCausalLM) on the meta device: the
    whole model's parameters and buffers, no memory."""
    import torch

    if auto is None:
        from transformers import AutoModelForCausalLM as auto
    with torch.device("meta"):
        return auto.from_config(config, **kwargs)


def prefill_caches(config, dtype, shapes, record: Callable) -> list:
    """One prefill per (batch, context) of `shapes` under FakeTensorMode, each with the fresh cache
    the model makes itself (what `generate` starts from): `record(cache, batch, context)` of each."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import AutoModelForCausalLM

    records = []
    with FakeTensorMode(allow_non_fake_inputs=True):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype).eval()
        for batch, context in shapes:
            ids = torch.zeros(batch, context, dtype=torch.long)
            with torch.no_grad():
                cache = model(input_ids=ids, use_cache=True).past_key_values
            records.append(record(cache, batch, context))
    return records


def fold(name: str) -> str:
    """A parameter name with its layer (and expert) indices folded to '*'."""
    return re.sub(r"\.\d+\.", ".*.", name)


def folded(named) -> dict[str, int]:
    """Elements per folded name of `(name, tensor)` pairs, sorted by name."""
    kinds: dict[str, int] = defaultdict(int)
    for name, t in named:
        kinds[fold(name)] += t.numel()
    return dict(sorted(kinds.items()))


def catalog_configs():
    """(stem, config dict) of every catalog model, by file name."""
    for path in sorted(CATALOG.glob("*.json")):
        yield path.stem, json.loads(path.read_text(encoding="utf-8"))["config"]


def vramkit_params(cfg: dict):
    """vramkit's parameter count, only to print beside the truth (never written to a fixture)."""
    try:
        import vramkit
        return vramkit.ModelSpec.from_config(cfg).params()
    except Exception as e:  # noqa: BLE001 - printing only
        return f"error: {e}"
