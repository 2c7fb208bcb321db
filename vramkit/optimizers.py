"""Optimizer states and the temporaries of the optimizer step, in bytes.

Each optimizer keeps per-parameter state tensors that live for the whole run, and its step
allocates short-lived temporaries. Both depend on the PyTorch implementation:

- `foreach` (PyTorch's default for CUDA tensors) applies each arithmetic operation to the whole
  list of parameters at once; an operation that is not in place (Adam's `sqrt` of the second
  moment) allocates a temporary as large as all of that state together.
- `for-loop` (`foreach=False`, what CPU runs use) does one parameter tensor at a time, so its
  temporaries are a few copies of the largest single parameter tensor.
- `fused` runs one kernel per parameter group and allocates no full-size temporaries.
- `trainer` is what transformers' Trainer runs for that optimizer with its defaults: since
  torch 2.8 its default `optim` is "adamw_torch_fused" (training_args.py, transformers 5.x), so
  AdamW is fused; its "adafactor" is transformers' own Adafactor, one tensor at a time; "lion" is
  lion-pytorch's Lion (one tensor at a time; Trainer's own "lion_32bit"/"lion_8bit" are the
  bitsandbytes optimizers `lion32bit`/`lion8bit` here); the rest are torch.optim classes with
  PyTorch's CUDA default, foreach.

bitsandbytes' optimizers (adamw8bit, lion32bit, lion8bit) update in place in one CUDA kernel per
tensor: no temporaries beyond their states. Their paged variants (Trainer's paged_adamw_8bit,
paged_adamw_32bit, paged_lion_8bit, paged_lion_32bit) allocate the state buffers of every tensor with
at least 100,000 elements through `bitsandbytes.functional.get_paged`: `cudaMallocManaged(...,
cudaMemAttachHost)` in bitsandbytes' own C library, wrapped as a tensor with `torch.frombuffer`
(bitsandbytes 0.50, optim/optimizer.py `get_state_buffer`). PyTorch's CUDA allocator never sees them,
so `torch.cuda.max_memory_allocated()` does not count them; smaller tensors' states, the 8-bit absmax
blocks and the quantile maps are ordinary `torch.zeros` and are counted. Unified memory migrates to
the GPU when the step prefetches it and is evicted to host memory when the GPU runs short:
`paged_state_bytes` gives these buffers, which vramkit reports apart from the peak. On a CPU
bitsandbytes falls back to ordinary tensors (same sizes), so only a CUDA run can show the split.

The numbers are checked against MemTracker in tests/reference/training.json (torch.optim, FakeTensor)
and tests/reference/training_optimizers.json (Adafactor, bitsandbytes, Lion, QLoRA: real CPU tensors). Explained in the
chapter on training memory.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import unknown

IMPLS = ("trainer", "foreach", "for-loop", "fused")
# What `trainer` resolves to, per optimizer (see the module docstring); absent: foreach.
TRAINER_IMPL = {"adamw": "fused", "adafactor": "for-loop", "adafactor-torch": "for-loop", "lion": "for-loop",
                "adamw8bit": "fused", "lion8bit": "fused", "lion32bit": "fused",  # bitsandbytes: one kernel per tensor
                "adamw32bit": "fused", "paged-adamw8bit": "fused", "paged-adamw32bit": "fused", "paged-lion8bit": "fused",
                "paged-lion32bit": "fused"}

# bitsandbytes 8-bit optimizers: block-wise quantized states with one fp32 absmax per block of 256
# (`Optimizer8bit` with block_wise=True); tensors under 4096 elements keep fp32 states.
BNB_BLOCK = 256
BNB_MIN_8BIT_SIZE = 4096
BNB_QMAP_BYTES = 256 * 4      # one fp32 quantile map ("dynamic" / "udynamic"), shared by all tensors


@dataclass(frozen=True)
class Optimizer:
    """What an optimizer keeps per parameter element.

    `states`: number of full-size state tensors, stored in the parameter's dtype (PyTorch keeps
    `exp_avg`/`exp_avg_sq`/`momentum_buffer` in the dtype of the parameter they belong to).
    `factored`: Adafactor keeps, for a matrix, one row vector and one column vector of second
    moments instead of a full matrix. `eight_bit`: bitsandbytes block-wise 8-bit states.
    `foreach_temps` / `loop_temps`: how many state-sized (foreach) or largest-tensor-sized
    (for-loop) temporaries the step holds at its fullest moment.
    `fixed_state_bytes`: states kept in this many bytes per element whatever the parameter dtype
    (transformers' Adafactor computes in fp32; bitsandbytes' 32-bit optimizers keep fp32 states).
    `loop_upcast_temps`: extra fp32 copies of the largest tensor a for-loop step makes when the
    parameters are 16-bit (transformers' Adafactor: `grad.float()` and `p.float()`); its
    `loop_temps` are then fp32 too. `qmaps`: bitsandbytes' shared 256-entry fp32 quantile maps.
    """

    name: str
    states: int
    factored: bool = False
    eight_bit: bool = False
    foreach_temps: int = 0
    loop_temps: int = 0
    fixed_state_bytes: int = 0
    loop_upcast_temps: int = 0
    qmaps: int = 0
    paged: bool = False


OPTIMIZERS: dict[str, Optimizer] = {o.name: o for o in (
    # Adam(W) foreach: `_foreach_sqrt(exp_avg_sqs)` is the one list-sized temporary (then divided and
    # offset in place). Single-tensor: `exp_avg_sq.sqrt()` then `/ bias_correction2_sqrt` are two
    # new tensors of one parameter's size, alive together.
    Optimizer("adamw", 2, foreach_temps=1, loop_temps=2),
    Optimizer("adam", 2, foreach_temps=1, loop_temps=2),
    # SGD with momentum: the buffer is updated in place (mul_, add_), then added to the parameter.
    Optimizer("sgd", 1),
    Optimizer("sgd-nomomentum", 0),
    # Lion (lion-pytorch): one momentum buffer in the parameter dtype; `exp_avg.clone().mul_(b1)
    # .add(grad)` holds the clone and the sum together (2 temporaries) before `sgn_` in place.
    Optimizer("lion", 1, foreach_temps=1, loop_temps=2),
    # Adafactor (transformers', Trainer's "adafactor"; beta1=None: no first moment): factored second
    # moments (row + column) for matrices, full for vectors, all fp32. Per tensor: `grad**2 + eps` and
    # the factored estimate `r_factor * c_factor` exist together (2 fp32 temporaries), plus the fp32
    # copies of the gradient and the parameter when those are 16-bit.
    Optimizer("adafactor", 1, factored=True, foreach_temps=1, loop_temps=2, fixed_state_bytes=4,
              loop_upcast_temps=2),
    # torch.optim.Adafactor: the same factored states in the parameter dtype; single-tensor: one
    # temporary of one tensor; foreach: one list-sized temporary (both measured).
    Optimizer("adafactor-torch", 1, factored=True, foreach_temps=1, loop_temps=1),
    # bitsandbytes AdamW8bit: two uint8 states plus fp32 absmax per 256 elements (two shared maps);
    # its CUDA kernel updates in place (no full-size temporaries).
    Optimizer("adamw8bit", 2, eight_bit=True, qmaps=2),
    # bitsandbytes Lion (Trainer's "lion_32bit"): one fp32 state whatever the parameter dtype.
    Optimizer("lion32bit", 1, eight_bit=False, fixed_state_bytes=4),
    # bitsandbytes Lion8bit (Trainer's "lion_8bit"): one uint8 state + absmax, one shared map.
    Optimizer("lion8bit", 1, eight_bit=True, qmaps=1),
    # bitsandbytes AdamW32bit: two fp32 states whatever the parameter dtype, updated in place
    Optimizer("adamw32bit", 2, fixed_state_bytes=4),
    # the paged variants: the same states, the large ones in CUDA unified memory (`paged_state_bytes`)
    Optimizer("paged-adamw8bit", 2, eight_bit=True, qmaps=2, paged=True),
    Optimizer("paged-adamw32bit", 2, fixed_state_bytes=4, paged=True),
    Optimizer("paged-lion8bit", 1, eight_bit=True, qmaps=1, paged=True),
    Optimizer("paged-lion32bit", 1, fixed_state_bytes=4, paged=True),
)}
# bitsandbytes' get_state_buffer: tensors with fewer elements keep ordinary CUDA states even when paged
BNB_PAGED_MIN_NUMEL = 100_000
ALIASES = {"sgd-momentum": "sgd", "sgd_nomomentum": "sgd-nomomentum", "adam8bit": "adamw8bit",
           "adamw_8bit": "adamw8bit", "paged_adamw_8bit": "paged-adamw8bit", "paged_adamw_32bit": "paged-adamw32bit",
           "paged_adamw": "paged-adamw32bit",
           "adamw_torch": "adamw", "adamw_torch_fused": "adamw", "adamw_bnb_8bit": "adamw8bit",
           "lion_32bit": "lion32bit", "paged_lion_32bit": "paged-lion32bit", "lion_8bit": "lion8bit",
           "paged_lion_8bit": "paged-lion8bit", "paged_lion": "paged-lion32bit", "lion-pytorch": "lion", "adafactor_torch": "adafactor-torch"}


def get_optimizer(name: str) -> Optimizer:
    """The optimizer called `name` (case-insensitive), or a VramkitError with a did-you-mean."""
    key = str(name).lower()
    key = ALIASES.get(key, key)
    if key not in OPTIMIZERS:
        raise unknown("optimizer", name, list(OPTIMIZERS))
    return OPTIMIZERS[key]


def check_impl(impl: str) -> str:
    """`impl` if it is one of IMPLS, else a VramkitError."""
    if impl not in IMPLS:
        raise unknown("optimizer implementation", impl, IMPLS)
    return impl


def resolve_impl(opt: Optimizer, impl: str) -> str:
    """The implementation that really runs: `trainer` resolved for `opt`, others as given."""
    check_impl(impl)
    return TRAINER_IMPL.get(opt.name, "foreach") if impl == "trainer" else impl


def state_bytes(opt: Optimizer, shapes: list[tuple[int, ...]], param_bytes: int) -> int:
    """Bytes of optimizer state for trainable tensors of these shapes.

    `param_bytes` is the bytes per element of the parameters (states share their dtype), except
    8-bit states, which are 1 byte plus an fp32 absmax per 256-element block.
    """
    total = 0
    per = opt.fixed_state_bytes or param_bytes
    eight = False
    for shape in shapes:
        n = _numel(shape)
        if opt.eight_bit:
            if n >= BNB_MIN_8BIT_SIZE:
                total += opt.states * (n + 4 * -(-n // BNB_BLOCK))
                eight = True
            else:
                total += opt.states * n * 4
        elif opt.factored and len(shape) >= 2:
            # row (..., rows) and column (..., cols) second moments (transformers' exp_avg_sq_row/col,
            # torch's row_var/col_var)
            lead = _numel(shape[:-2])
            total += lead * (shape[-2] + shape[-1]) * per
        else:
            total += opt.states * n * per
    return total + (opt.qmaps * BNB_QMAP_BYTES if eight else 0)


def paged_state_bytes(opt: Optimizer, shapes: list[tuple[int, ...]]) -> int:
    """Bytes of the state buffers a bitsandbytes paged optimizer allocates in CUDA unified memory.

    Included in `state_bytes`; not in max_memory_allocated. Per tensor of at least
    BNB_PAGED_MIN_NUMEL elements: its `states` buffers, uint8 (8-bit) or fp32 (32-bit); the absmax
    blocks and the quantile maps stay ordinary tensors. Zero for an optimizer that is not paged.
    """
    if not opt.paged:
        return 0
    per = 1 if opt.eight_bit else opt.fixed_state_bytes
    return sum(opt.states * _numel(s) * per for s in shapes if _numel(s) >= BNB_PAGED_MIN_NUMEL)


def step_temporary_bytes(opt: Optimizer, impl: str, shapes: list[tuple[int, ...]], param_bytes: int) -> int:
    """Peak bytes of temporaries inside one optimizer step (beyond states, weights and gradients)."""
    impl = resolve_impl(opt, impl)
    if not shapes or opt.eight_bit or impl == "fused":
        return 0
    if opt.fixed_state_bytes and not opt.loop_temps:
        return 0                                  # bitsandbytes 32-bit: in place, like its 8-bit kernels
    if impl == "foreach":
        sizes = [(_numel(s) if not (opt.factored and len(s) >= 2) else _numel(s)) for s in shapes]
        return opt.foreach_temps * sum(sizes) * param_bytes
    largest = max(_numel(s) for s in shapes)
    if opt.loop_upcast_temps:                     # computes in fp32 whatever the parameter dtype
        upcast = opt.loop_upcast_temps if param_bytes < 4 else 0
        return (opt.loop_temps + upcast) * largest * 4
    return opt.loop_temps * largest * param_bytes


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
