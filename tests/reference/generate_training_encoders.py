"""Write tests/reference/training_encoders.json: training-step peaks of encoders and T5 under MemTracker.

The same machinery as generate_training.py (FakeTensorMode, two steps, per-phase MemTracker peaks),
for the models people fine-tune that are not causal LMs: a BERT-style classification fine-tune
(`...ForSequenceClassification`, integer labels), masked-LM training (`...ForMaskedLM`, labels = ids)
and T5 (`T5ForConditionalGeneration`, labels = target ids; the decoder input is the labels shifted).
Attention dropout is 0 (CPU SDPA with dropout falls back to the math kernel, whose seq x seq mask
CUDA's kernels do not store); hidden dropout keeps each family's default (its masks are stored).

    python tests/reference/generate_training_encoders.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: E402
from transformers import (AutoConfig, AutoModelForMaskedLM, AutoModelForSeq2SeqLM,  # noqa: E402
                          AutoModelForSequenceClassification)

import _harness as harness  # noqa: E402
from generate_training import (BASE, DTYPES, FrozenAwareMemTracker, _make_optimizer, _snapshot,  # noqa: E402
                               _start_phase, _storages_bytes)

OUT = Path(__file__).with_name("training_encoders.json")
AUTO = {"classification": AutoModelForSequenceClassification, "masked-lm": AutoModelForMaskedLM,
        "seq2seq": AutoModelForSeq2SeqLM}
ARCHS: dict[str, dict] = {
    "bert-cls": dict(model_type="bert", hidden_size=512, num_hidden_layers=4, num_attention_heads=8,
                     intermediate_size=2048, vocab_size=30522, max_position_embeddings=512,
                     attention_probs_dropout_prob=0.0, num_labels=3,
                     architectures=["BertForSequenceClassification"]),
    "bert-mlm": dict(model_type="bert", hidden_size=512, num_hidden_layers=4, num_attention_heads=8,
                     intermediate_size=2048, vocab_size=30522, max_position_embeddings=512,
                     attention_probs_dropout_prob=0.0, architectures=["BertForMaskedLM"]),
    "roberta-cls": dict(model_type="roberta", hidden_size=512, num_hidden_layers=4, num_attention_heads=8,
                        intermediate_size=2048, vocab_size=50265, max_position_embeddings=514, type_vocab_size=1,
                        pad_token_id=1, attention_probs_dropout_prob=0.0,
                        architectures=["RobertaForSequenceClassification"]),
    "modernbert-cls": dict(model_type="modernbert", hidden_size=512, num_hidden_layers=4, num_attention_heads=8,
                           intermediate_size=768, vocab_size=50368, pad_token_id=50283, eos_token_id=50282,
                           bos_token_id=50281, cls_token_id=50281, sep_token_id=50282,
                           architectures=["ModernBertForSequenceClassification"]),
    "t5": dict(model_type="t5", d_model=512, d_kv=64, d_ff=2048, num_layers=4, num_heads=8, vocab_size=32128,
               dropout_rate=0.1, decoder_start_token_id=0),
    "t5-v1.1": dict(model_type="t5", d_model=512, d_kv=64, d_ff=1024, num_layers=4, num_heads=8, vocab_size=32128,
                    feed_forward_proj="gated-gelu", tie_word_embeddings=False, dropout_rate=0.1,
                    decoder_start_token_id=0),
}
SETTINGS = {
    "mixed-adamw": dict(),
    "bf16-adamw": dict(precision="bf16"),
    "fp32-adamw": dict(precision="fp32"),
    "mixed-adamw-s512-b16": dict(seq=512, batch=16),   # activations dominate
    "bf16-adamw-s512-b16": dict(precision="bf16", seq=512, batch=16),
    "fp32-adamw-s512-b16": dict(precision="fp32", seq=512, batch=16),
}
# T5 runs the first four settings only (each T5 case takes minutes on a CPU under FakeTensorMode).
T5_SETTINGS = ("mixed-adamw", "bf16-adamw", "fp32-adamw", "mixed-adamw-s512-b16")
SEQ, BATCH = 256, 4


def task_of(cfg: dict) -> str:
    if cfg["model_type"] == "t5":
        return "seq2seq"
    return "classification" if cfg["architectures"][0].endswith("ForSequenceClassification") else "masked-lm"


def _no_trunc_normal(tensor, *args, **kwargs):
    return tensor  # FakeTensorMode cannot answer trunc_normal_'s mask.any() (ModernBERT's init)


def run_case(arch: str, settings: dict) -> dict:
    import transformers.initialization as init

    init.TORCH_INIT_FUNCTIONS["trunc_normal_"] = torch.nn.init.trunc_normal_ = _no_trunc_normal
    s = {**BASE, "seq": SEQ, "batch": BATCH, **settings}
    cfg = dict(ARCHS[arch])
    task = task_of(cfg)
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    config._attn_implementation = s["attention"]
    dtype = DTYPES[s["precision"]]
    with FakeTensorMode():
        torch.manual_seed(0)
        model = AUTO[task].from_config(config, dtype=dtype)
        model.train()
        if s["gradient_checkpointing"]:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt = _make_optimizer(s["optimizer"], trainable, s["foreach"])
        ids = torch.randint(0, 1000, (s["batch"], s["seq"]))
        if task == "classification":
            inputs = dict(input_ids=ids, labels=torch.randint(0, config.num_labels, (s["batch"],)))
        elif task == "seq2seq":  # target as long as the source
            inputs = dict(input_ids=ids, labels=torch.randint(0, 1000, (s["batch"], s["seq"])))
        else:
            inputs = dict(input_ids=ids, labels=ids)
        mt = FrozenAwareMemTracker()
        mt.track_external(model, opt, ids)
        steps = []
        with mt:
            for step in range(2):
                phases = {}
                _start_phase(mt)
                if s["precision"] == "mixed":
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        loss = model(**inputs).loss
                else:
                    loss = model(**inputs).loss
                phases["forward"] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
                _start_phase(mt)
                loss.backward()
                del loss
                phases["backward"] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
                _start_phase(mt)
                opt.step()
                phases["optimizer_step"] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
                _start_phase(mt)
                opt.zero_grad(set_to_none=True)
                phases["zero_grad"] = dict(peak=_snapshot(mt, "peak"), end=_snapshot(mt, "current"))
                steps.append(dict(phases=phases))
                mt.reset_mod_stats()
        params = list(model.parameters())
        record = dict(arch=arch, task=task, model_class=type(model).__name__, settings=s,
                      params=sum(p.numel() for p in params), param_bytes=_storages_bytes(params),
                      buffer_bytes=_storages_bytes(list(model.buffers())), steps=steps)
    best = None
    for i, st in enumerate(record["steps"]):
        for ph, d in st["phases"].items():
            if best is None or d["peak"].get("Total", 0) >= best[2]["Total"]:
                best = (i + 1, ph, d["peak"])
    record["peak_bytes"] = best[2]["Total"]
    record["peak_step"], record["peak_phase"], record["peak_snapshot"] = best
    return record


def cases():
    for arch in ARCHS:
        for suffix, st in SETTINGS.items():
            if arch.startswith("t5") and suffix not in T5_SETTINGS:
                continue
            yield f"{arch}/{suffix}", arch, st


def main() -> int:
    only = sys.argv[1:]
    out = harness.cases_of(OUT) if only else {}
    failures = harness.measure(
        [c for c in cases() if harness.wanted(c[0], only)],
        lambda arch, st: {**run_case(arch, st), "config": ARCHS[arch]}, out,
        lambda rec: f"peak {rec['peak_bytes'] / 2**20:9.1f} MiB at step {rec['peak_step']} {rec['peak_phase']:<15}")
    meta = dict(
        harness.header(__file__),
        tracker="torch.distributed._tools.mem_tracker.MemTracker under FakeTensorMode (fake CPU device)",
        steps=2, seq=SEQ, batch=BATCH,
        losses="classification: cross-entropy over num_labels on the pooled [CLS]; masked-lm: labels = input_ids; "
               "t5: labels of seq tokens (decoder input = labels shifted right)",
        dropout="attention dropout 0 (see docstring); hidden dropout at the family default",
        mixed="fp32 weights, torch.autocast('cpu', bfloat16)")
    return harness.finish(OUT, meta, out, failures)


if __name__ == "__main__":
    raise SystemExit(main())
