"""What both llama.cpp fixture tests read from a case of their fixtures (tests/reference/llama_cpp.json
and llama_cpp_hybrid.json share one schema): the request vramkit plans, its plan, the bytes llama.cpp
measured, and a readable id."""
from vramkit.engines import llama_cpp as L
from vramkit.engines.base import EngineRequest
from vramkit.model import ModelSpec


def request(data: dict, case: dict) -> EngineRequest:
    """The EngineRequest of a fixture case: llama.cpp's flags as vramkit's engine options."""
    r = case["request"]
    fa = {-1: "auto", 0: "off", 1: "on"}[r["flash_attn"]]
    options = {"ubatch_size": r["n_ubatch"], "batch_size": r["n_batch"], "flash_attn": fa,
               "cache_type_k": r["cache_type_k"], "cache_type_v": r["cache_type_v"],
               "kv_unified": bool(r["kv_unified"]), "swa_full": bool(r["swa_full"])}
    spec = ModelSpec.from_config(data["archs"][case["arch"]], source=case["arch"])
    return EngineRequest(spec=spec, context=r["n_ctx"] // r["n_seq_max"], batch=r["n_seq_max"],
                         weights=case["ftype"], options=options)


_PLANS: dict[int, object] = {}


def plan_of(data: dict, case: dict):
    """vramkit's plan for a fixture case (computed once per case)."""
    if id(case) not in _PLANS:
        _PLANS[id(case)] = L.plan(request(data, case))
    return _PLANS[id(case)]


def measured(case: dict, part: str) -> int:
    """Bytes llama.cpp reported for `part` ("model", "context", "compute"), over its buffers."""
    return sum(b[part] for b in case["buffers"])


def ids(cases: list) -> list[str]:
    return [f"{c['arch']}-{c['ftype']}-" + "-".join(str(v) for v in c["request"].values()) for c in cases]
