"""Chapter 06 (speed): the generic roofline bound against scaling-book's worked answer, and identities."""
import pytest

from vramkit import speed
from vramkit.errors import VramkitError
from vramkit.hardware import GPU, get_gpu

# jax-ml/scaling-book inference.md pop quiz: a TPU v5e 4x4 slice, 16 chips of 8.1e11 bytes/s and
# 1.97e14 bf16 FLOP/s; a 30B dense model in int8, 8192 tokens of context, 100 kB of KV per token.
V5E_4X4 = GPU(id="tpu-v5e-4x4", name="TPU v5e 4x4", vendor="google", memory_bytes=16 * 16 * 10**9,
              bandwidth_bytes_per_s=16 * 810 * 10**9, bf16_flops_per_s=16 * 197 * 10**12, unified_memory=False)
PARAMS, KV_PER_SEQUENCE = 30 * 10**9, 100_000 * 8192


def _quiz(batch):
    return speed.step_bound(V5E_4X4, PARAMS + batch * KV_PER_SEQUENCE, 2 * batch * PARAMS, tokens=batch)


def test_pop_quiz_batch_4_is_about_2_5_ms():
    step = _quiz(4)
    assert step.bound == "memory"
    assert 2.5e-3 <= step.seconds < 2.6e-3  # the book prints "2.5 ms"


def test_pop_quiz_batch_256_overlapped_bound_is_below_the_books_21_ms():
    # The book adds the KV read to max(MLP FLOPs, weight read): 21 ms. Perfect overlap of all reads
    # and all FLOPs (vramkit's bound) can only be lower, and its FLOP part is the book's term.
    step = _quiz(256)
    assert step.compute_seconds == pytest.approx(2 * 256 * 30e9 / (16 * 1.97e14))
    assert step.seconds < 21e-3


@pytest.mark.parametrize("gpu", ["h100-sxm5", "rtx-4090", "a100-80gb-sxm4"])
def test_step_bound_of_decodes_bytes_and_flops_is_decode_step(gpu):
    for batch in (1, 64, 2048):
        d = speed.decode_step("llama-3.1-8b", gpu, 1024, batch)
        g = speed.step_bound(gpu, d.memory_bytes, d.flops, tokens=batch)
        assert (g.seconds, g.bound, g.tokens_per_second) == (d.seconds, d.bound, d.tokens_per_second)


@pytest.mark.parametrize("intensity", [1, 10, 100, 295, 1000, 10_000])
def test_attained_flops_is_the_roofline(intensity):
    h100 = get_gpu("h100-sxm5")
    step = speed.step_bound(h100, 10**9, intensity * 10**9)
    assert step.intensity == intensity
    assert step.flops_per_second == pytest.approx(min(intensity * h100.bandwidth_bytes_per_s, h100.bf16_flops_per_s))
    assert step.bound == ("memory" if intensity <= speed.ridge_point(h100) else "compute")


def test_step_bound_rejects_nonsense():
    with pytest.raises(VramkitError):
        speed.step_bound("h100-sxm5", 0, 10)
