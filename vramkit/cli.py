"""The `vramkit` command: a thin layer over the library, with a stable `--json` contract.

Each command is a `Command`: its arguments, a `run(args) -> dict` returning plain data (the JSON
schema, the same whatever the flags) and a `table(dict) -> str` for people. Bad input prints one
line on stderr and exits with code 2 (see vramkit.errors).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable

from .errors import VramkitError, clip
from .record import record


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, asking for the terminal width only when help is written.

    argparse builds a formatter for every argument it adds (to check the metavar), and each asks
    shutil for the terminal's width: importing shutil (with zlib, bz2 and lzma) costs every command
    ~3 ms of start-up for a number that only --help uses. Same width, same text, asked for later.
    """

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(prog, indent_increment, max_help_position, width=1 if width is None else width)
        if width is None:
            del self._width, self._max_help_position  # computed on first use, in __getattr__
            self._asked_position = max_help_position

    def __getattr__(self, name):
        if name not in ("_width", "_max_help_position"):
            raise AttributeError(name)
        import shutil

        self._width = shutil.get_terminal_size().columns - 2  # as HelpFormatter.__init__
        self._max_help_position = min(self._asked_position, max(self._width - 20, self._indent_increment * 2))
        return getattr(self, name)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def __init__(self, *args, **kw):
        kw.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kw)

    def error(self, message):  # noqa: D102
        raise VramkitError(f"{self.prog}: {message}")


def _count(text: str) -> int:
    """A positive integer argument; '8k' and '128K' mean 8,192 and 131,072 tokens.

    ASCII digits only: Python's int() also reads '٣' as 3, and str.isdigit() calls '³' a digit.
    """
    return _integer(text, positive=True)


def _count0(text: str) -> int:
    """A non-negative integer argument (e.g. --lora-rank 0: no adapters)."""
    return _integer(text, positive=False)


def _integer(text: str, positive: bool) -> int:
    t = text.strip().lower()
    scale = 1024 if t.endswith("k") else 1
    digits = t[:-1] if scale > 1 else t
    expected = "a positive integer" if positive else "a non-negative integer"
    if not re.fullmatch(r"[0-9]+", digits):
        raise argparse.ArgumentTypeError(f"expected {expected} (ASCII digits, optionally k), got '{text[:40]}'")
    if len(digits) > 18:
        raise argparse.ArgumentTypeError(f"expected {expected} below 10**18, got {len(digits)} digits")
    value = int(digits) * scale
    if value <= 0 and positive:
        raise argparse.ArgumentTypeError(f"expected {expected}, got '{text[:40]}'")
    return value


def _fraction(text: str) -> float:
    try:
        if not re.fullmatch(r"[0-9.eE+-]{1,40}", text.strip()):  # ASCII only, as for integers
            raise ValueError(text)
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.1, got '{text[:40]}'") from None
    if not 0 <= value < 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got '{text}'")
    return value


# ---- params / models ---------------------------------------------------------------------


def _args_head(p: argparse.ArgumentParser) -> None:
    p.add_argument("--head", default=None, help="encoders (bert, roberta, modernbert): masked-lm, classification "
                   "or none (default: the head the config's 'architectures' names)")
    p.add_argument("--num-labels", type=_count, default=2, help="outputs of a classification head (default 2)")


def _load_with_head(args):
    """The model, with --head applied to an encoder."""
    from .sources import load_model

    spec = load_model(args.model)
    if getattr(args, "head", None):
        from .families.encoders import with_head

        spec = with_head(spec, args.head, args.num_labels)
    return spec




def _run_params(args) -> dict:
    spec = _load_with_head(args)
    checkpoint = None
    if spec.quantization:  # a quantized checkpoint: its own tensors, priced one by one
        from .checkpoints import bytes_by_dtype, checkpoint_tensors, scheme

        tensors = checkpoint_tensors(spec)
        checkpoint = {"scheme": scheme(spec.quantization), "bytes": sum(t.nbytes for t in tensors),
                      "by_dtype": bytes_by_dtype(tensors)}
    safetensors = None
    if args.safetensors:  # exact stored bytes from the checkpoint's headers (a Hub id or a local folder)
        from pathlib import Path

        if Path(args.model).exists():
            from .sources import safetensors_params

            folder = Path(args.model)
            safetensors = safetensors_params(folder if folder.is_dir() else folder.parent)
        else:
            from .hub import safetensors_summary

            safetensors = safetensors_summary(args.model)
    return {"model": args.model, "model_type": spec.model_type, "checkpoint": checkpoint, "safetensors": safetensors,
            "params": spec.params(),
            "active_params": spec.active_params(),
            "active_params_without_embedding": spec.active_params("without_embedding"),
            "language_model_params": spec.language_model_params(),
            "multimodal": spec.multimodal or None, "architecture": spec.architecture,
            "breakdown": spec.breakdown()}


def _args_params(p: argparse.ArgumentParser) -> None:
    _args_head(p)
    p.add_argument("--safetensors", action="store_true",
                   help="also read the checkpoint's safetensors headers (a local folder, or a Hub id: a few KB, never weights)")


def _table_params(d: dict) -> str:
    from .units import fmt_count

    rows = [f"{d['model']} ({d['model_type']})",
            f"  params         {d['params']:>20,}  ({fmt_count(d['params'])})",
            f"  active params  {d['active_params']:>20,}  ({fmt_count(d['active_params'])})",
            f"    without the input embedding {d['active_params_without_embedding']:,} "
            f"({fmt_count(d['active_params_without_embedding'])})"]
    if d.get("multimodal"):
        rows.append(f"  language model {d['language_model_params']:>20,}  ({fmt_count(d['language_model_params'])})"
                    f"  ({d['multimodal']}: towers and projector apart)")
    rows += [f"    {k:<12} {v:>20,}" for k, v in d["breakdown"].items() if v]
    if d["checkpoint"]:
        from .units import fmt_bytes

        c = d["checkpoint"]
        rows.append(f"  checkpoint     {c['scheme']}: {fmt_bytes(c['bytes'], 'both')} "
                    f"({', '.join(f'{k} {fmt_bytes(v)}' for k, v in c['by_dtype'].items())})")
    if d["safetensors"]:
        from .units import fmt_bytes

        rows.append(f"  safetensors    {d['safetensors']['params']:>20,} elements, "
                    f"{fmt_bytes(d['safetensors']['bytes'], 'both')}")
    return "\n".join(rows)


def _run_models(args) -> dict:
    from . import catalog
    from .sources import load_model

    out = []
    for name in catalog.model_names():
        spec = load_model(name)
        out.append({"name": name, "model_type": spec.multimodal or spec.model_type, "params": spec.params(),
                    "active_params": spec.active_params(), "hf_repo": catalog.model_entry(name)["hf_repo"]})
    return {"models": out}


def _table_models(d: dict) -> str:
    from .units import fmt_count

    # Columns as wide as their longest entry (qwen3.5-397b-a17b, granitemoehybrid), so rows stay aligned.
    wn = max((len(m["name"]) for m in d["models"]), default=0)
    wt = max((len(m["model_type"]) for m in d["models"]), default=0)
    return "\n".join(f"{m['name']:<{wn}} {m['model_type']:<{wt}} {fmt_count(m['params']):>9} "
                     f"{fmt_count(m['active_params']):>9}  {m['hf_repo']}" for m in d["models"])


# ---- infer / fit -------------------------------------------------------------------------


def _args_infer(p: argparse.ArgumentParser, context_default: int | None = None, gpu_required: bool = False) -> None:
    """infer's arguments; `fit` reuses them with a default context and a required GPU."""
    if context_default is None:
        p.add_argument("--context", type=_count, required=True, help="tokens per sequence (8k = 8192)")
    else:
        p.add_argument("--context", type=_count, default=context_default,
                       help=f"tokens per sequence (default {context_default})")
    p.add_argument("--batch", type=_count, default=1, help="sequences served at once")
    p.add_argument("--weights", default=None,
                   help="weight format (see 'vramkit formats'); default: the checkpoint's own quantization_config, else bf16")
    p.add_argument("--kv-dtype", default=None, help="KV cache format (default: bf16; fp16 for llama.cpp)")
    p.add_argument("--engine", default="transformers", help="transformers, vllm, llama.cpp or mlx")
    p.add_argument("--gpu", default=None, required=gpu_required, help="GPU to check against (see 'vramkit gpus')")
    p.add_argument("--gpus", type=_count, default=1, help="devices of the --gpu kind (vLLM: tensor parallel)")
    _args_vllm(p)
    _args_llama_cpp(p)


class _EngineGroup:
    """An argument group of one engine's own flags that records their dest names: those are the
    EngineRequest.options keys (`_engine_options`), so each flag is named once, where it is added."""

    dests: list[str] = []  # every engine flag's dest, in the order added (shared by the groups)

    def __init__(self, p: argparse.ArgumentParser, title: str):
        self.group = p.add_argument_group(title)

    def add_argument(self, *names, **kw):
        action = self.group.add_argument(*names, **kw)
        if action.dest not in self.dests:
            self.dests.append(action.dest)
        return action


def _args_vllm(p: argparse.ArgumentParser) -> None:
    """vLLM's engine options (used with --engine vllm)."""
    # Spelled as vLLM spells them; None: vLLM's own default (vramkit.engines.vllm).
    g = _EngineGroup(p, "vLLM (--engine vllm)")
    g.add_argument("--gpu-memory-utilization", type=float, default=None, help="share of each GPU vLLM takes (0.9)")
    g.add_argument("--max-model-len", type=_count, default=None, help="longest request (default: --context)")
    g.add_argument("--max-num-seqs", type=_count, default=None, help="sequences per step (256, or 1024 on H100-class)")
    g.add_argument("--max-num-batched-tokens", type=_count, default=None,
                   help="tokens per step, the profile run's size (2048, or 8192 on H100-class, for vllm serve)")
    g.add_argument("--block-size", type=_count, default=None, help="tokens per KV block (16)")
    g.add_argument("--tensor-parallel-size", type=_count, default=None, help="GPUs one layer is split over")
    g.add_argument("--pipeline-parallel-size", type=_count, default=None, help="stages the layers are split into")
    g.add_argument("--enforce-eager", action="store_true", default=None, help="no CUDA graphs")
    g.add_argument("--vllm-version", default=None, help="0.28 (current: CUDA graphs profiled), 0.19, or 0.6 (the V0 engine)")
    g.add_argument("--entrypoint", default=None, help="serve (vllm serve, default) or llm (the LLM class)")
    g.add_argument("--enable-prefix-caching", action=argparse.BooleanOptionalAction, default=None,
                   help="hybrids: Mamba state cached per block (0.28 default on, 0.19 off)")
    g.add_argument("--mamba-cache-mode", default=None, help="none, align (0.28's default with prefix caching) or all")
    g.add_argument("--mamba-cache-dtype", default=None, help="Mamba conv/SSM state dtype (auto: the model's)")
    g.add_argument("--mamba-ssm-cache-dtype", default=None, help="SSM state dtype (auto: per model, see vllm_kv)")


def _engine_options(args) -> dict:
    """The engine flags the user gave, as {flag_with_underscores: value}."""
    return {k: getattr(args, k) for k in _EngineGroup.dests if getattr(args, k, None) is not None}


def _args_images(p: argparse.ArgumentParser) -> None:
    """infer's multimodal and encoder-decoder inputs."""
    p.add_argument("--images", type=int, default=0, help="images per sequence (multimodal models): their "
                   "tokens join the context")
    p.add_argument("--image-size", type=_image_size, default=None,
                   help="image side in pixels, or HxW, where the token count depends on it (Qwen-VL, Mistral 3; "
                        "default 1024)")
    p.add_argument("--decoder-tokens", type=_count, default=1,
                   help="encoder-decoder (T5): decoder tokens so far; --context is the encoder's input")


def _image_size(text: str):
    """'896' or '1024x768' (height x width)."""
    parts = text.lower().split("x")
    try:
        sizes = [int(x) for x in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected pixels such as 896 or 1024x768, got '{text}'") from None
    if len(sizes) > 2 or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"expected pixels such as 896 or 1024x768, got '{text}'")
    return sizes[0] if len(sizes) == 1 else tuple(sizes)


def _args_infer_command(p: argparse.ArgumentParser) -> None:
    _args_infer(p)
    _args_images(p)


def _n_gpu_layers(text: str) -> int:
    """-ngl as llama.cpp takes it: a count, or 'all' / 'auto' (-1: every layer and the head)."""
    if text.strip().lower() in ("all", "auto", "-1"):
        return -1
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a layer count, 'all' or 'auto', got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a layer count >= 0, got '{text}'")
    return value


def _args_llama_cpp(p: argparse.ArgumentParser) -> None:
    """llama.cpp's own flags, spelled as llama.cpp spells them; None means llama.cpp's default
    (applied by vramkit.engines.llama_cpp). Dest names are EngineRequest.options keys."""
    g = _EngineGroup(p, "llama.cpp (with --engine llama.cpp)")
    g.add_argument("--n-gpu-layers", "-ngl", dest="n_gpu_layers", type=_n_gpu_layers, metavar="N", default=None,
                   help="layers on the GPU(s), the output head counting as the last (default: all)")
    g.add_argument("--ubatch-size", "-ub", dest="ubatch_size", type=_count, metavar="N", default=None,
                   help="physical micro-batch (default 512): sizes the compute buffer")
    g.add_argument("--batch-size", "-b", dest="batch_size", type=_count, metavar="N", default=None,
                   help="logical batch (default 2048)")
    g.add_argument("--flash-attn", "-fa", dest="flash_attn", choices=["on", "off", "auto"], default=None,
                   help="flash attention (default auto)")
    g.add_argument("--cache-type-k", "-ctk", dest="cache_type_k", metavar="TYPE", default=None,
                   help="K cache type: f16 (default), f32, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl")
    g.add_argument("--cache-type-v", "-ctv", dest="cache_type_v", metavar="TYPE", default=None,
                   help="V cache type (quantized types need --flash-attn on)")
    g.add_argument("--split-mode", "-sm", dest="split_mode", choices=["none", "layer", "row"], default=None,
                   help="how several GPUs share the model (default layer)")
    g.add_argument("--tensor-split", "-ts", dest="tensor_split", metavar="A,B,...", default=None,
                   help="proportions per GPU, e.g. 3,1 (default: equal)")
    g.add_argument("--no-kv-offload", "-nkvo", dest="no_kv_offload", action="store_true", default=None,
                   help="keep the KV cache in host memory")
    g.add_argument("--n-cpu-moe", "-ncmoe", dest="n_cpu_moe", type=int, metavar="N", default=None,
                   help="keep the experts of the first N layers in host memory")
    g.add_argument("--kv-unified", "-kvu", dest="kv_unified", action="store_true", default=None,
                   help="one KV buffer shared by the --batch sequences (llama-server's default with auto slots)")
    g.add_argument("--swa-full", dest="swa_full", action="store_true", default=None,
                   help="full-size cache for sliding-window layers")



def _run_infer(args) -> dict:
    from .inference import infer_memory

    mem = infer_memory(args.model, args.context, args.batch, weights=args.weights, kv_dtype=args.kv_dtype,
                       engine=args.engine, gpu=args.gpu, gpus=args.gpus, options=_engine_options(args),
                       images=args.images, image_size=args.image_size, decoder_tokens=args.decoder_tokens)
    return {"model": args.model, **mem.to_json()}


def _holds_constant_state(model: str) -> bool:
    """Whether the model's cache holds a per-sequence state besides K/V (Mamba, linear attention, short
    convolution). Asked of the spec: an engine's pool (vLLM's blocks, llama.cpp's padded cells) also
    exceeds per-token bytes x context, and that is not a state."""
    from .sources import load_model

    return bool(load_model(model).mixer_state)


def _table_infer(d: dict) -> str:
    from .units import fmt_bytes

    rows = [f"{d['model']}: {d['context']:,} tokens x {d['batch']} on {d['engine']} "
            f"(weights {d['weights']}, KV {d['kv_dtype']})"]
    for key in ("weights_bytes", "kv_cache_bytes", "activation_bytes", "overhead_bytes", "total_bytes"):
        note = " (estimate: no measured rule)" if key == "activation_bytes" and d.get("activation_estimated") else ""
        rows.append(f"  {key.removesuffix('_bytes'):<12} {fmt_bytes(d[key], 'both')}{note}")
    rows.append(f"  KV per token {d['kv_bytes_per_token']:,} B"
                + (" (attention layers; the cache also holds a constant state per sequence)"
                   if _holds_constant_state(d["model"]) else ""))
    if d.get("images"):
        rows.append(f"  {d['images']} image(s) per sequence: {d['image_tokens']:,} of the {d['context']:,} tokens")
    if d["gpu"]:
        verdict = "fits" if d["fits"] else "does NOT fit"
        n = f"{len(d['devices'])} x " if len(d["devices"]) > 1 else ""
        rows.append(f"  {n}{d['gpu']}: {fmt_bytes(d['gpu_usable_bytes'])} usable -> {verdict}")
    if d["engine"] == "vllm" and d["kv_blocks"] is not None:
        v = d["vllm"]
        rows.append(f"  vLLM ({d['engine_version']}) pre-allocates {fmt_bytes(d['preallocated_bytes'])} on "
                    f"{len(d['devices'])} GPU(s), TP={v['tensor_parallel_size']} PP={v['pipeline_parallel_size']}; "
                    f"KV pool {d['kv_blocks']:,} blocks = {d['kv_tokens_capacity']:,} tokens, "
                    f"{d['max_concurrency']}x requests of {v['max_model_len']:,}"
                    + ("" if d["fits"] else " -> vLLM refuses to start"))
    if len(d["devices"]) > 1:
        for dev in d["devices"]:
            rows.append(f"    {dev['name']:<14} weights {fmt_bytes(dev['weights_bytes'])}, KV {fmt_bytes(dev['kv_cache_bytes'])}, "
                        f"compute {fmt_bytes(dev['compute_bytes'])}, total {fmt_bytes(dev['total_bytes'])}")
    return "\n".join(rows)


def _args_fit(p: argparse.ArgumentParser) -> None:
    _args_infer(p, context_default=4096, gpu_required=True)
    # default None: fit's DEFAULT_HEADROOM (0.05), imported only when fit runs; the JSON states the one used
    p.add_argument("--headroom", type=_fraction, default=None,
                   help="fraction of the usable memory to keep free (default 0.05; 0 for none)")
    p.add_argument("--train", action="store_true",
                   help="also: the largest batch (at --context tokens) and sequence that TRAIN on the GPU")
    _args_train_settings(p)


def _run_fit(args) -> dict:
    from .fit import fit

    from .fit import DEFAULT_HEADROOM

    headroom = DEFAULT_HEADROOM if args.headroom is None else args.headroom
    report = fit(args.model, args.gpu, args.context, args.batch, weights=args.weights,
                 kv_dtype=args.kv_dtype, engine=args.engine, headroom=headroom, options=_engine_options(args),
                 gpus=args.gpus)
    train = None
    if args.train:
        from .sources import load_model

        settings = _train_settings(args)
        train = {"settings": settings,
                 **_largest_trainable(load_model(args.model), args.gpu, args.context, args.batch, settings)}
    return {"model": args.model, "gpu": args.gpu, "context": args.context, "batch": args.batch,
            "weights": _weights_name(args), "engine": args.engine, **report.to_json(),
            "train": train}


def _weights_name(args) -> str:
    """--weights as given, or the label of the default the model implies (its checkpoint's format)."""
    if args.weights:
        return args.weights
    from .inference import default_weights, weights_label
    from .sources import load_model

    spec = load_model(args.model)
    return weights_label(spec, default_weights(spec))


def _table_fit(d: dict) -> str:
    from .units import fmt_bytes

    verdict = "fits" if d["fits"] else "does NOT fit"
    kept = (f"; the budget keeps {d['headroom']:.0%} of the usable memory free, --headroom 0 for none"
            if d["headroom"] else "")
    return "\n".join([
        f"{d['model']} on {d['gpu']} ({d['weights']}, {d['context']:,} tokens x {d['batch']}): {verdict}",
        f"  needs {fmt_bytes(d['total_bytes'])} of {fmt_bytes(d['budget_bytes'])} "
        f"({fmt_bytes(d['free_bytes'])} free{kept})",
        f"  largest context at batch {d['batch']}: {d['max_context']:,} tokens"
        + (f" (trained for {d['trained_context']:,})" if d["trained_context"] else ""),
        f"  largest batch at {d['context']:,} tokens: {d['max_batch']:,}",
        f"  best-quality weights that fit: {d['best_weights'] or 'none'}",
        f"  llama.cpp layers on the GPU: {d['gpu_layers'] if d['gpu_layers'] is not None else 'not planned for this architecture'}",
        f"  GPUs of this kind needed: {d['gpus_needed'] or 'more than 64'}",
    ] + ([f"  training ({d['train']['settings']['precision']}, {d['train']['settings']['optimizer']}): "
          f"largest batch at {d['context']:,} tokens {d['train']['max_batch']:,}; "
          f"longest sequence at batch {d['batch']} {d['train']['max_seq']:,} tokens"] if d["train"] else []))


# ---- gpus / formats ----------------------------------------------------------------------


def _run_gpus(args) -> dict:
    from .hardware import gpus

    return {"gpus": [g.to_json() for g in gpus()]}


def _table_gpus(d: dict) -> str:
    from .units import fmt_bytes

    return "\n".join(f"{g['id']:<22} {fmt_bytes(g['memory_bytes'], 'GiB', 0):>8} "
                     f"(usable {fmt_bytes(g['usable_bytes'], 'GiB', 1):>9}) "
                     f"{g['bandwidth_bytes_per_s'] / 1e9:>7,.0f} GB/s  {g['name']}" for g in d["gpus"])


def _run_formats(args) -> dict:
    from .dtypes import formats_table

    return {"formats": formats_table()}


def _table_formats(d: dict) -> str:
    return "\n".join(f"{f['name']:<10} {f['bits']:>8.4f} bits  {f.get('kind', ''):<6}" if f["bits"] is not None
                     else f"{f['name']:<10} {'mix':>8} of {f['base']} and others, per model  {f.get('kind', ''):<6}"
                     for f in d["formats"])


# ---- train -------------------------------------------------------------------------------


def _args_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seq", type=_count, required=True, help="tokens per sequence (2k = 2048)")
    p.add_argument("--batch", type=_count, default=1, help="sequences per step (per GPU)")
    _args_train_settings(p)
    p.add_argument("--gpu", default=None, help="GPU to check against (see 'vramkit gpus')")
    _args_head(p)


def _args_train_settings(p: argparse.ArgumentParser) -> None:
    """How training runs: shared by `train` and `fit --train`."""
    p.add_argument("--precision", default="mixed", help="mixed (fp32 weights + bf16 autocast), bf16, fp16 or fp32")
    p.add_argument("--optimizer", default="adamw", help="adamw, adam, sgd, sgd-nomomentum, adafactor, adafactor-torch, adamw8bit, adamw32bit, lion, lion32bit, "
                        "lion8bit, or a paged one (paged_adamw_8bit, paged_adamw_32bit, paged_lion_8bit, paged_lion_32bit)")
    p.add_argument("--optimizer-impl", default="trainer",
                   help="trainer (Trainer's default: fused AdamW with torch>=2.8), foreach (torch.optim on CUDA), "
                        "for-loop or fused")
    p.add_argument("--gradient-checkpointing", action="store_true", help="keep only layer inputs; recompute")
    p.add_argument("--lora-rank", type=_count0, default=0, help="train LoRA adapters of this rank (0: full)")
    p.add_argument("--lora-targets", default="all-linear", help="all-linear, attention, or names (q,v,...)")
    p.add_argument("--qlora", action="store_true", help="NF4 base (double quantization) + LoRA adapters")
    p.add_argument("--prepare-kbit", action="store_true",
                   help="with --qlora: after peft.prepare_model_for_kbit_training (non-4-bit weights and activations "
                        "in fp32); its default checkpointing is --gradient-checkpointing")
    p.add_argument("--attention", default="sdpa", help="sdpa/flash (no seq x seq matrix) or eager")
    p.add_argument("--zero", default="0",
                   help="ZeRO stage 0-3, FSDP1 full_shard / shard_grad_op, or FSDP2 fully_shard / fully_shard_no_reshard")
    if not any("--gpus" in a.option_strings for a in p._actions):  # fit: infer's --gpus serves both
        p.add_argument("--gpus", type=_count, default=1, help="GPUs the states are sharded over")
    p.add_argument("--offload", action="store_true",
                   help="ZeRO-Offload: optimizer states (and at stage 3 the parameters) in CPU memory")
    p.add_argument("--keep-outputs", action="store_true",
                   help="a hand-written loop that keeps the model's outputs (the logits) through backward")
    p.add_argument("--gradient-accumulation", type=_count, default=1, help="micro-batches per optimizer step")
    p.add_argument("--fused-loss", default="none",
                   help="none, or liger (Liger's fused linear cross-entropy: no vocab-wide logits)")
    p.add_argument("--activation-offload", action="store_true",
                   help="forward and loss under torch.autograd.graph.save_on_cpu (saved tensors in host memory)")


def _train_settings(args) -> dict:
    return dict(precision=args.precision, optimizer=args.optimizer, optimizer_impl=args.optimizer_impl,
                gradient_checkpointing=args.gradient_checkpointing, lora_rank=args.lora_rank,
                lora_targets=args.lora_targets, qlora=args.qlora, zero=args.zero, gpus=args.gpus,
                offload=args.offload, attention=args.attention, keep_outputs=args.keep_outputs,
                gradient_accumulation=args.gradient_accumulation, fused_loss=args.fused_loss,
                activation_offload=args.activation_offload, prepare_kbit=args.prepare_kbit)


def _largest_trainable(spec, gpu: str, seq: int, batch: int, settings: dict) -> dict:
    """The largest batch at `seq` and the longest sequence at `batch` that train on `gpu`."""
    from .hardware import get_gpu
    from .training import largest_trainable

    usable = get_gpu(gpu).usable_bytes()
    return {"max_batch": largest_trainable(spec, usable, vary="batch", seq=seq, **settings),
            "max_seq": largest_trainable(spec, usable, vary="seq", batch=batch, **settings)}


def _run_train(args) -> dict:
    from .training import train_memory

    spec = _load_with_head(args)
    settings = _train_settings(args)
    mem = train_memory(spec, seq=args.seq, batch=args.batch, **settings)
    out = {"model": args.model, **mem.to_json(), "gpu": args.gpu, "gpu_usable_bytes": None, "fits": None,
           "max_batch": None, "max_seq": None}
    if args.gpu:
        from .hardware import get_gpu

        usable = get_gpu(args.gpu).usable_bytes()
        out.update(gpu_usable_bytes=usable, fits=out["total_with_overhead_bytes"] <= usable,
                   **_largest_trainable(spec, args.gpu, args.seq, args.batch, settings))
    return out


def _table_train(d: dict) -> str:
    from .units import fmt_bytes

    s = d["settings"]
    rows = [f"{d['model']}: seq {s['seq']:,} x batch {s['batch']}, {s['precision']}, {s['optimizer']} "
            f"({s['optimizer_impl']}){', checkpointing' if s['gradient_checkpointing'] else ''}"
            f"{', LoRA r=' + str(s['lora_rank']) if s['lora_rank'] else ''}{', QLoRA' if s['qlora'] else ''}"
            f"{' (prepared for k-bit)' if s.get('prepare_kbit') else ''}"
            f"{', ZeRO-' + str(s['zero']) + ' x ' + str(s['gpus']) + ' GPUs' if s['zero'] else ''}",
            f"  peak {fmt_bytes(d['peak_bytes'], 'both')} at {d['peak_phase']}; alive then:"]
    rows += [f"    {k:<12} {fmt_bytes(v, 'both')}" for k, v in d["breakdown"].items()]
    rows.append(f"  + overhead  {fmt_bytes(d['overhead_bytes'], 'both')} (CUDA context, allocator cache)")
    if d.get("paged_optimizer_bytes"):
        rows.append(f"  + paged     {fmt_bytes(d['paged_optimizer_bytes'], 'both')} of optimizer states in CUDA "
                    f"unified memory (outside max_memory_allocated; evicted to host when the GPU is full)")
    if d["gpu"]:
        rows.append(f"  {d['gpu']}: {fmt_bytes(d['gpu_usable_bytes'])} usable -> "
                    f"{'fits' if d['fits'] else 'does NOT fit'}")
        rows.append(f"  largest batch that trains at seq {s['seq']:,}: {d['max_batch']:,}; "
                    f"longest sequence at batch {s['batch']}: {d['max_seq']:,} tokens")
    return "\n".join(rows)


@record
class Command:
    run: Callable[[argparse.Namespace], dict]
    table: Callable[[dict], str]
    help: str
    add_args: Callable[[argparse.ArgumentParser], None] | None = None
    takes_model: bool = True


COMMANDS: dict[str, Command] = {
    "params": Command(_run_params, _table_params, "exact parameter count of MODEL", _args_params),
    "infer": Command(_run_infer, _table_infer, "inference memory: weights + KV cache + activations + overhead",
                     _args_infer_command),
    "fit": Command(_run_fit, _table_fit, "does MODEL fit a GPU; the largest context, batch and best format",
                   _args_fit),
    "train": Command(_run_train, _table_train, "training memory: the peak of a step and what is alive then",
                     _args_train),
    "models": Command(_run_models, _table_models, "list the catalog models", takes_model=False),
    "gpus": Command(_run_gpus, _table_gpus, "list the catalog GPUs", takes_model=False),
    "formats": Command(_run_formats, _table_formats, "list the number formats", takes_model=False),
}


def build_parser(only: str | None = None, alone: bool = False) -> argparse.ArgumentParser:
    """The whole parser, or (`only`) one whose other commands are bare stubs: argparse builds a
    formatter per argument, so building only the command being run keeps start-up short.
    `alone`: without the stubs either, for a command line that starts with the command (the
    other commands' names appear only in the top level's help and its invalid-choice error)."""
    p = _Parser(prog="vramkit", description="How much GPU memory a language model needs, and why.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, cmd in COMMANDS.items():
        if alone and name != only:
            continue
        s = sub.add_parser(name, help=cmd.help, description=cmd.help)
        if only is not None and name != only:
            continue
        if cmd.takes_model:
            s.add_argument("model", metavar="MODEL", help="config.json path, folder, catalog name or Hub id (org/name)")
        if cmd.add_args:
            cmd.add_args(s)
        s.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        first = next((a for a in argv if not a.startswith("-")), None)
        known = first in COMMANDS
        args = build_parser(first if known else None, alone=known and argv[0] == first).parse_args(argv)
        cmd = COMMANDS[args.command]
        data = cmd.run(args)
        print(json.dumps(data, indent=1, ensure_ascii=False) if args.json else cmd.table(data))
    except VramkitError as e:
        print(f"vramkit: error: {clip(e, 2000)}", file=sys.stderr)  # one line, whatever the input held
        return 2
    except BrokenPipeError:  # `vramkit models | head`
        return 0
    except KeyboardInterrupt:
        return 130
    except (MemoryError, RecursionError) as e:  # a safety net: still one line, never a traceback
        print(f"vramkit: error: input too large to compute ({type(e).__name__})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
