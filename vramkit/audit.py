"""The seed documents' numbers, recomputed with vramkit: right, approximate or wrong.

`catalog/seed_claims.json` holds each claim as data: the seed file, the quoted sentence, the
claimed value and unit, and a `recompute` recipe naming one vramkit call. `audit()` runs every
recipe and compares. Explained in the appendix (chapters/*/08-appendix.ipynb).

A claim is *right* when vramkit's figure is within `RIGHT` (5%) of it, *approximate* within
`APPROXIMATE` (25%), *wrong* beyond that. A range claim ("0-8 GB") is right when the figure lies
inside it and is otherwise judged by its nearer end; a yes/no claim (fits or not) is right or wrong,
and so is a check of the seed's own arithmetic (`sum`, `product`): a sum is not approximately right.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import VramkitError, unknown

RIGHT = 0.05
APPROXIMATE = 0.25
VERDICTS = ("right", "approximate", "wrong")

# What one unit of each claimed unit is, in the base unit of its kind (bytes, a count, a fraction).
UNITS = {
    "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30,
    "count": 1, "billion": 10**9, "bits": 1, "B/param": 1, "%": 0.01, "bool": 1,
}

_PATH = Path(__file__).parent / "catalog" / "seed_claims.json"


@lru_cache(maxsize=None)
def claims_data() -> dict:
    """The claims file as stored: {"meta", "seeds", "models", "claims"}."""
    return json.loads(_PATH.read_text(encoding="utf-8"))


def _model(name: str):
    """A catalog model, or one of the configs the claims file carries (models the seeds name
    that the catalog lacks, such as the original LLaMA-30B)."""
    from .sources import load_model

    extra = claims_data()["models"]
    return load_model(extra[name]["config"] if name in extra else name)


def _train(r: dict):
    from .training import train_memory

    kw = {k: v for k, v in r.items() if k not in ("call", "model", "field", "fields", "gpu")}
    return train_memory(_model(r["model"]), **kw)


def _field(obj, name: str) -> int:
    """`obj.name`, or `obj.breakdown[key]` for 'breakdown.key' (what is alive at the peak), or
    `obj.maxima[key]` for 'maxima.key' (that component's largest value over the step)."""
    for part in ("breakdown", "maxima"):
        if name.startswith(part + "."):
            return getattr(obj, part)[name.split(".", 1)[1]]
    return getattr(obj, name)


def _fields(obj, r: dict) -> int:
    return sum(_field(obj, f) for f in r.get("fields", [r.get("field")]))


def recompute(r: dict):
    """vramkit's figure for one recipe, in the base unit (bytes, count, fraction or bool)."""
    from .dtypes import get_format, storage_bytes
    from .inference import infer_memory, kv_cache_bytes, weights_bytes

    call = r.get("call")
    if call == "params":
        return _model(r["model"]).params()
    if call == "weights":
        return weights_bytes(_model(r["model"]), r["weights"])
    if call == "kv_cache":
        return kv_cache_bytes(_model(r["model"]), r["context"], r.get("batch", 1), r.get("kv_dtype", "fp16"))
    if call == "inference":
        m = infer_memory(_model(r["model"]), r["context"], r.get("batch", 1), weights=r.get("weights", "fp16"),
                         kv_dtype=r.get("kv_dtype", "fp16"))
        return _fields(m, r)
    if call == "storage":
        n = _model(r["params_of"]).params() if "params_of" in r else int(r["count"])
        return storage_bytes(n, r["dtype"])
    if call == "per_param":  # bytes per parameter of a training component
        return _fields(_train(r), r) / _model(r["model"]).params()
    if call == "training":
        return _fields(_train(r), r)
    if call == "mixed_weight_copies":  # bytes per parameter of weights in mixed precision, with the
        # bf16 copies autocast makes of every matmul weight (decoder linears and the output head)
        from .activations import weight_cast_bytes

        spec = _model(r["model"])
        b = spec.breakdown()
        matmul = b["attention"] + b["mixer"] + b["mlp"] + b["experts"] + b["router"] + (b["lm_head"] or b["embedding"])
        m = _train({"model": r["model"], "seq": 1})
        return (m.maxima["weights"] + weight_cast_bytes(matmul, "mixed")) / spec.params()
    if call == "format":
        fmt = get_format(r["format"])
        if r["field"] == "codes":  # distinct bit patterns of one element
            return 2 ** int(fmt.bits)
        return getattr(fmt, r["field"])
    if call == "usable":
        from .hardware import get_gpu

        return get_gpu(r["gpu"]).usable_bytes()
    if call == "usable_share":  # usable bytes / installed bytes
        from .hardware import get_gpu

        gpu = get_gpu(r["gpu"])
        return gpu.usable_bytes() / gpu.memory_bytes
    if call == "fits_memory":  # weights + KV cache in `memory_gib` of plain RAM (a CPU box, a Pi)
        spec = _model(r["model"])
        need = weights_bytes(spec, r["weights"]) + kv_cache_bytes(spec, r.get("context", 512), 1, "fp16")
        return need <= r["memory_gib"] * 2**30
    if call == "fits_inference":
        from .hardware import get_gpu

        gpu = get_gpu(r["gpu"])
        m = infer_memory(_model(r["model"]), r["context"], r.get("batch", 1), weights=r.get("weights", "fp16"),
                         kv_dtype=r.get("kv_dtype", "fp16"))
        return m.total_bytes <= gpu.usable_bytes()
    if call == "fits_training":
        from .hardware import get_gpu

        return _train(r).peak_bytes <= get_gpu(r["gpu"]).usable_bytes()
    if call == "saving":  # the fraction of `vs` that `of` saves
        return 1 - recompute(r["of"]) / recompute(r["vs"])
    if call == "sum":  # the seed's own terms: checks its arithmetic, not its model
        return sum(r["terms"])
    if call == "product":
        out = 1
        for f in r["factors"]:
            out *= f
        return out
    raise unknown("recompute call", str(call), _CALLS)


_CALLS = ("params", "weights", "kv_cache", "inference", "storage", "per_param", "training", "format",
          "mixed_weight_copies", "usable", "usable_share", "fits_memory", "fits_inference", "fits_training", "saving", "sum", "product")


@dataclass(frozen=True)
class Verdict:
    """One claim beside vramkit's figure. `claimed` and `computed` are in the claim's unit;
    `error` is (claimed - computed) / computed (None for yes/no claims)."""

    id: str
    seed: str
    quote: str          # verbatim from the seed
    cell: str           # where in a table, when the quote is a table row ("" otherwise)
    unit: str
    claimed: float | tuple | bool
    computed: float | bool
    error: float | None
    verdict: str
    note: dict

    def to_json(self) -> dict:
        return dict(self.__dict__)


ARITHMETIC = ("sum", "product")


def judge(claimed, computed, unit: str, arithmetic: bool = False) -> tuple[float | None, str]:
    """(relative error, verdict) of a claimed value (a number, a [low, high] range or a bool)
    against vramkit's figure, both in the same unit. `arithmetic`: no approximate band."""
    if unit == "bool":
        return None, "right" if bool(claimed) == bool(computed) else "wrong"
    if computed == 0:
        raise VramkitError("seed audit: vramkit's figure is 0, a relative error is undefined")
    if isinstance(claimed, (list, tuple)):
        low, high = claimed
        if low <= computed <= high:
            return 0.0, "right"
        claimed = low if computed < low else high
    err = (claimed - computed) / computed
    if abs(err) <= RIGHT:
        return err, "right"
    return err, "approximate" if abs(err) <= APPROXIMATE and not arithmetic else "wrong"


def check_claim(c: dict) -> Verdict:
    """Recompute one claim of the claims file and judge it."""
    unit = c["unit"]
    if unit not in UNITS:
        raise unknown(f"unit of claim {c.get('id')}", unit, UNITS)
    value = recompute(c["recompute"])
    computed = bool(value) if unit == "bool" else float(value) / UNITS[unit]
    claimed = tuple(c["claimed"]) if isinstance(c["claimed"], list) else c["claimed"]
    err, verdict = judge(claimed, computed, unit, c["recompute"].get("call") in ARITHMETIC)
    return Verdict(id=c["id"], seed=c["seed"], quote=c["quote"], cell=c.get("cell", ""), unit=unit, claimed=claimed,
                   computed=computed, error=err, verdict=verdict, note=c.get("note", {}))


def audit(seed: str | None = None) -> list[Verdict]:
    """Every claim (or those of one seed, e.g. "001"), recomputed and judged, in file order."""
    claims = claims_data()["claims"]
    if seed is not None:
        seeds = sorted({c["seed"] for c in claims})
        if seed not in seeds:
            raise unknown("seed", seed, seeds)
        claims = [c for c in claims if c["seed"] == seed]
    return [check_claim(c) for c in claims]
