"""vramkit beside the real libraries and beside the rules people use today: the accuracy tables.

The truth is the reference fixtures in tests/reference (written by scripts that ran torch and
transformers): KV-cache bytes from real prefills, and MemTracker peaks from real training steps.
Next to vramkit stand the estimates that calculators and rules of thumb give, each written as its
source states it, so the book can show how far each one is from what PyTorch allocates.
Explained in the appendix (chapters/*/08-appendix.ipynb). Returns pandas DataFrames (lazy import).
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from .model import FULL, ModelSpec

# The fixtures live in the repository (tests/reference), next to the package in a checkout.
REFERENCE_DIR = Path(__file__).resolve().parents[1] / "tests" / "reference"


def load_fixture(name: str, directory: Path | None = None) -> dict | None:
    """tests/reference/NAME.json as a dict, or None where the repository is not there (e.g. Colab)."""
    path = (directory or REFERENCE_DIR) / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


# ---- KV cache ------------------------------------------------------------------------------

def _kv_bytes_per_element(dtype: str) -> int:
    return {"bf16": 2, "fp16": 2, "fp32": 4}[dtype]


def kv_rule_no_gqa(spec: ModelSpec, context: int, batch: int, dtype: str) -> int:
    """2 x layers x hidden_size x tokens x bytes: the formula of calculators that ignore GQA/MQA and MLA
    (and of seed 003), i.e. as if every head had its own K and V of hidden_size / heads."""
    return 2 * spec.num_layers * spec.hidden_size * context * batch * _kv_bytes_per_element(dtype)


def kv_rule_no_window(spec: ModelSpec, context: int, batch: int, dtype: str) -> int:
    """The GQA-aware formula with a full cache on every layer: calculators that ignore sliding windows."""
    from .inference import kv_cache_bytes

    return kv_cache_bytes(spec.with_changes(layer_types=(FULL,) * spec.num_layers), context, batch, dtype)


def kv_vramkit(spec: ModelSpec, context: int, batch: int, dtype: str) -> int:
    from .inference import kv_cache_bytes

    return kv_cache_bytes(spec, context, batch, dtype)


KV_ESTIMATORS = {
    "vramkit": kv_vramkit,
    "2·L·hidden (no GQA)": kv_rule_no_gqa,
    "GQA, no sliding window": kv_rule_no_window,
}


def kv_accuracy(fixture: dict | None = None):
    """One row per reference prefill: the bytes transformers' cache held and each estimate's error."""
    import pandas as pd

    fixture = fixture or load_fixture("static")
    if fixture is None:
        return None
    rows = []
    for name, rec in fixture["small"].items():
        spec = ModelSpec.from_config(rec["config"])
        for case in rec["kv"]:
            row = {"case": name, "model_type": spec.model_type, "context": case["context"], "batch": case["batch"],
                   "dtype": case["dtype"], "transformers": case["kv_bytes"]}
            for label, estimate in KV_ESTIMATORS.items():
                row[label] = estimate(spec, case["context"], case["batch"], case["dtype"])
            rows.append(row)
    return pd.DataFrame(rows)


# ---- training peaks ------------------------------------------------------------------------

# The fixture's optimizer names (tests/reference/generate_training.py) in vramkit's terms.
_OPTIMIZERS = {"adamw": ("adamw", "foreach"), "adamw-fused": ("adamw", "fused"), "adam": ("adam", "foreach"),
               "sgd": ("sgd", "foreach"), "sgd-plain": ("sgd-nomomentum", "foreach")}


def predict_training(case: dict):
    """vramkit's `train_memory` for one MemTracker fixture case, with the case's own settings."""
    from .training import train_memory

    s = case["settings"]
    name, impl = _OPTIMIZERS[s["optimizer"]]
    if name != "sgd-nomomentum" and not s["foreach"] and impl == "foreach":
        impl = "for-loop"
    return train_memory(ModelSpec.from_config(case["config"]), seq=s["seq"], batch=s["batch"],
                        precision=s["precision"], optimizer=name, optimizer_impl=impl,
                        gradient_checkpointing=s["gradient_checkpointing"], lora_rank=s["lora_rank"],
                        attention=s["attention"], keep_outputs=s.get("keep_outputs", False),
                        gradient_accumulation=s.get("grad_accum", 1))


# Rules people use for full fine-tuning with Adam, as their sources state them (none counts activations).
TRAINING_RULES = {
    # ZeRO paper / DeepSpeed: mixed-precision Adam keeps 2 + 2 + 12 bytes per parameter.
    "16 B/param (ZeRO, DeepSpeed)": lambda case: 16 * case["params"],
    # transformers docs, model_memory_anatomy.md: "18 bytes/param + activations" for mixed AdamW.
    "18 B/param (HF docs)": lambda case: 18 * case["params"],
    # accelerate estimate-memory: "Training using Adam" = 4 x the model's size in its dtype.
    "accelerate (4 x model size)": lambda case: 4 * case["param_bytes"],
}


def training_accuracy(fixture: dict | None = None):
    """One row per full fine-tuning fixture case: MemTracker's peak, vramkit's and the rules'."""
    import pandas as pd

    fixture = fixture or load_fixture("training")
    if fixture is None:
        return None
    rows = []
    for cid, case in sorted(fixture["cases"].items()):
        if case["settings"]["lora_rank"]:
            continue  # the rules are for full fine-tuning only
        row = {"case": cid, "precision": case["settings"]["precision"], "optimizer": case["settings"]["optimizer"],
               "MemTracker": case["peak_bytes"], "vramkit": predict_training(case).peak_bytes}
        for label, rule in TRAINING_RULES.items():
            row[label] = rule(case)
        rows.append(row)
    return pd.DataFrame(rows)


def error_summary(table, truth: str, estimators) -> "object":
    """Per estimator: median and worst |relative error| against `truth`, and the share within 5%."""
    import pandas as pd

    out = []
    for label in estimators:
        errs = [abs(e / t - 1) for e, t in zip(table[label], table[truth])]
        out.append({"estimator": label, "cases": len(errs), "median |error|": statistics.median(errs),
                    "worst |error|": max(errs), "within 5%": sum(e <= 0.05 for e in errs) / len(errs)})
    return pd.DataFrame(out).set_index("estimator")


def format_summary(summary, digits: int = 1):
    """`error_summary` as percentages for people (a table of strings; the numbers stay in `summary`)."""
    shown = summary.copy()
    for col in ("median |error|", "worst |error|"):
        shown[col] = summary[col].map(lambda x: f"{x:.{digits}%}")
    shown["within 5%"] = summary["within 5%"].map(lambda x: f"{x:.0%}")
    return shown
