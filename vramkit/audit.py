"""The seed documents' numbers, recomputed with vramkit: right, approximate or wrong.

`catalog/seed_claims.json` holds each claim as data: the seed file, the quoted sentence, the
claimed value and unit, and a `recompute` recipe naming one vramkit call. `audit()` runs every
recipe and compares. Explained in the appendix (chapters/*/08-appendix.ipynb).

A claim is *right* when vramkit's figure is within `RIGHT` (5%) of it, *approximate* within
`APPROXIMATE` (25%), *wrong* beyond that. A range claim ("0-8 GB") is right when the figure lies
inside it and is otherwise judged by its nearer end; a yes/no claim (fits or not) is right or wrong,
and so is a check of the seed's own arithmetic (`sum`, `product`): a sum is not approximately right.
A fits claim names its device and carries its margin (bytes needed / bytes usable); within
`MARGINAL` (10%) of 1 it is *marginal* whichever way it was claimed: 103% and 143% are not alike.

One assumption for optimizer precision, stated once: training claims are recomputed with fp32
optimizer states (mixed precision, as `Trainer(bf16=True)` and DeepSpeed keep them) unless the seed
says otherwise, and every such claim also carries the 16-bit-state reading (pure bf16:
`reading_16bit`, `verdict_16bit`), so a reader who meant 16-bit states sees that verdict too.
A claimed value may be what the seed's own code returns (`{"code": name, "args": [...]}`, run
from `vramkit.seed_calculator`), compared with vramkit like a printed number.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import VramkitError, unknown

RIGHT = 0.05
APPROXIMATE = 0.25
MARGINAL = 0.10  # a fits claim whose need is within 10% of the usable memory: headroom and engine decide it
VERDICTS = ("right", "approximate", "marginal", "wrong")
FIT_CALLS = ("fits_inference", "fits_training", "fits_memory")
TRAINING_CALLS = ("training", "per_param", "fits_training")

# What one unit of each claimed unit is, in the base unit of its kind (bytes, a count, a fraction).
UNITS = {
    "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30,
    "count": 1, "billion": 10**9, "bits": 1, "B/param": 1, "%": 0.01, "bool": 1, "x": 1,
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

    kw = {k: v for k, v in r.items() if k not in ("call", "model", "field", "fields", "gpu", "gpu_gib")}
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
    if call == "kv_cache":  # "keys_only": the K half ("the Key vector takes ...")
        kv = kv_cache_bytes(_model(r["model"]), r["context"], r.get("batch", 1), r.get("kv_dtype", "fp16"))
        return kv // 2 if r.get("keys_only") else kv
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
        if r["field"] in ("min", "max"):  # an integer format's range, as formats_table gives it
            from .dtypes import formats_table

            return next(row for row in formats_table() if row["name"] == fmt.name)[r["field"]]
        return getattr(fmt, r["field"])
    if call == "usable":
        from .hardware import get_gpu

        return get_gpu(r["gpu"]).usable_bytes()
    if call == "usable_share":  # usable bytes / installed bytes
        from .hardware import get_gpu

        gpu = get_gpu(r["gpu"])
        return gpu.usable_bytes() / gpu.memory_bytes
    if call in FIT_CALLS:
        need, usable, _ = fit_margin(r)
        return need <= usable
    if call == "ratio":  # one figure over another (e.g. optimizer states over the 16-bit model)
        return recompute(r["of"]) / recompute(r["vs"])
    if call == "config":  # an architecture number of the model's config (hidden size, layers, heads)
        return getattr(_model(r["model"]), r["field"])
    if call == "kv_elements":  # K (or V) elements per token, all layers: what "L x H" counts
        from .inference import kv_elements_per_token

        spec = _model(r["model"])
        return sum(kv_elements_per_token(spec, layer) for layer in range(spec.num_layers)) // 2
    if call == "absmax":  # the largest magnitude of the seed's example values: absmax quantization's scale basis
        return max(abs(v) for v in r["values"])
    if call == "ppl_increase":  # published perplexity increase over F16, as a fraction of F16's
        from .catalog import published

        board = published(r["source"])["rows"]
        return board[r["quant"]]["ppl"] / board[r["base"]]["ppl"] - 1
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
          "mixed_weight_copies", "usable", "usable_share", "fits_memory", "fits_inference", "fits_training", "saving",
          "ratio", "config", "kv_elements", "absmax", "ppl_increase", "sum", "product")


def fit_margin(r: dict) -> tuple[int, int, str]:
    """(bytes needed, bytes usable, device name) of a fits recipe: `fits_inference` (transformers'
    total on a catalog GPU), `fits_training` (the training peak) or `fits_memory` (weights + KV cache
    in `memory_gib` of plain RAM: a CPU box, a Raspberry Pi)."""
    from .inference import infer_memory, kv_cache_bytes, weights_bytes

    call = r["call"]
    if call == "fits_memory":
        spec = _model(r["model"])
        need = weights_bytes(spec, r["weights"]) + kv_cache_bytes(spec, r.get("context", 512), 1, "fp16")
        return need, int(r["memory_gib"] * 2**30), f"{r['memory_gib']:g} GiB RAM"
    from .hardware import custom_gpu, get_gpu

    # "gpu_gib": a card the catalog lacks, named by its memory (the seed's "8GB laptop GPU")
    gpu = custom_gpu(r["gpu_gib"], name=f"{r['gpu_gib']:g} GiB GPU") if "gpu_gib" in r else get_gpu(r["gpu"])
    if call == "fits_inference":
        need = infer_memory(_model(r["model"]), r["context"], r.get("batch", 1), weights=r.get("weights", "fp16"),
                            kv_dtype=r.get("kv_dtype", "fp16")).total_bytes
    elif call == "fits_training":
        need = _train(r).peak_bytes
    else:
        raise unknown("fits recipe", str(call), FIT_CALLS)
    return need, gpu.usable_bytes(), gpu.name


def sixteen_bit_reading(r: dict) -> dict | None:
    """The same training recipe with 16-bit optimizer states (pure bf16), or None when the recipe has
    no optimizer-precision assumption to vary (not a training call, or not mixed precision)."""
    if r.get("call") in TRAINING_CALLS and r.get("precision") == "mixed":
        return {**r, "precision": "bf16"}
    return None


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
    quote_en: str = ""              # the claim rendered in English
    device: str = ""                # fits claims: the GPU (or RAM) it was judged on
    need_bytes: int | None = None   # fits claims: what vramkit says it needs ...
    usable_bytes: int | None = None  # ... and what the device offers
    reading_16bit: float | bool | None = None  # training claims: vramkit's figure with 16-bit states
    verdict_16bit: str | None = None

    @property
    def margin(self) -> float | None:
        """need / usable of a fits claim (1.03 is 103%), else None."""
        return None if self.need_bytes is None else self.need_bytes / self.usable_bytes

    def to_json(self) -> dict:
        return {**self.__dict__, "margin": self.margin}


ARITHMETIC = ("sum", "product")


def judge(claimed, computed, unit: str, arithmetic: bool = False,
          margin: float | None = None) -> tuple[float | None, str]:
    """(relative error, verdict) of a claimed value (a number, a [low, high] range or a bool)
    against vramkit's figure, both in the same unit. `arithmetic`: no approximate band. `margin`
    (need / usable) of a yes/no fits claim: within MARGINAL of 1 the verdict is "marginal"."""
    if unit == "bool":
        if margin is not None and abs(margin - 1) <= MARGINAL:
            return None, "marginal"
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


def claimed_value(c: dict):
    """The claimed value in the claim's unit: as printed, a [low, high] range, or what the seed's
    own code returns ({"code": "inference_memory", "args": [7, 2, 4096]})."""
    x = c["claimed"]
    if isinstance(x, dict):
        from .seed_calculator import FUNCTIONS

        if x.get("code") not in FUNCTIONS:
            raise unknown(f"seed code of claim {c.get('id')}", str(x.get("code")), FUNCTIONS)
        return FUNCTIONS[x["code"]](*x.get("args", []), **x.get("kwargs", {}))
    return tuple(x) if isinstance(x, list) else x


def _judged(c: dict, r: dict, claimed, unit: str):
    """(computed in the claim's unit, error, verdict, need, usable, device) for recipe `r`."""
    need = usable = None
    device = ""
    if r.get("call") in FIT_CALLS:
        need, usable, device = fit_margin(r)
        value = need <= usable
    else:
        value = recompute(r)
    computed = bool(value) if unit == "bool" else float(value) / UNITS[unit]
    err, verdict = judge(claimed, computed, unit, r.get("call") in ARITHMETIC,
                         None if need is None else need / usable)
    return computed, err, verdict, need, usable, device


def check_claim(c: dict) -> Verdict:
    """Recompute one claim of the claims file and judge it (with its 16-bit-state reading when it
    is a training claim in mixed precision)."""
    unit = c["unit"]
    if unit not in UNITS:
        raise unknown(f"unit of claim {c.get('id')}", unit, UNITS)
    claimed = claimed_value(c)
    computed, err, verdict, need, usable, device = _judged(c, c["recompute"], claimed, unit)
    alt = sixteen_bit_reading(c["recompute"])
    alt_value = alt_verdict = None
    if alt is not None:
        alt_value, _, alt_verdict, *_ = _judged(c, alt, claimed, unit)
    return Verdict(id=c["id"], seed=c["seed"], quote=c["quote"], cell=c.get("cell", ""), unit=unit, claimed=claimed,
                   computed=computed, error=err, verdict=verdict, note=c.get("note", {}),
                   quote_en=c.get("quote_en", ""), device=device, need_bytes=need, usable_bytes=usable,
                   reading_16bit=alt_value, verdict_16bit=alt_verdict)


def audit(seed: str | None = None) -> list[Verdict]:
    """Every claim (or those of one seed, e.g. "001"), recomputed and judged, in file order."""
    claims = claims_data()["claims"]
    if seed is not None:
        seeds = sorted({c["seed"] for c in claims})
        if seed not in seeds:
            raise unknown("seed", seed, seeds)
        claims = [c for c in claims if c["seed"] == seed]
    return [check_claim(c) for c in claims]
