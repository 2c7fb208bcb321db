"""GPU catalog and Apple's working-set rule against measured Metal logs."""
import pytest

from vramkit.errors import VramkitError
from vramkit.hardware import apple_working_set_bytes, get_gpu, gpus
from vramkit.units import GIB, MIB

# recommendedMaxWorkingSetSize as llama.cpp / ollama printed it on real Macs (reference published.json
# apple-wss-*): unified memory GiB -> MiB.
MEASURED_WSS_MIB = {8: 5461.34, 16: 10922.67, 32: 21845.34, 64: 49152.00, 96: 73728.00}


@pytest.mark.parametrize("gib,mib", MEASURED_WSS_MIB.items(), ids=[f"{g}GB" for g in MEASURED_WSS_MIB])
def test_apple_working_set_matches_measured_logs(gib, mib):
    assert round(apple_working_set_bytes(gib * GIB) / MIB, 2) == pytest.approx(mib, abs=0.011)


def test_catalog_covers_reference_and_apple_sizes():
    ids = {g.id for g in gpus()}
    assert len(ids) == len(gpus()) >= 38
    assert {"rtx-4090", "h100-sxm5", "a100-80gb-sxm4", "mi300x", "apple-m2-max-96gb"} <= ids
    assert all(g.memory_bytes % GIB == 0 and g.bandwidth_bytes_per_s > 0 for g in gpus())


@pytest.mark.parametrize("name,expected", [("4090", "rtx-4090"), ("RTX 4090", "rtx-4090"),
                                           ("NVIDIA H100 SXM5", "h100-sxm5"), ("h200", "h200-sxm")])
def test_lookup_forms(name, expected):
    assert get_gpu(name).id == expected


def test_unknown_and_ambiguous_names():
    with pytest.raises(VramkitError, match="did you mean 'rtx-4090'"):
        get_gpu("rtx-4099")
    with pytest.raises(VramkitError, match="ambiguous"):
        get_gpu("h100")


# ---- driver-reported totals, ECC, FLOP rates, 2026 hardware, runtime context ------------------

def test_driver_totals_are_sourced_and_below_nominal():
    from vramkit import catalog

    reported = [g for g in catalog.gpu_entries() if g["driver_total_bytes"]]
    assert len(reported) >= 10
    for g in reported:
        assert g["driver_total_source"] and "#" in g["driver_total_source"], g["id"]
        assert g["driver_total_bytes"] <= g["memory_bytes"], g["id"]


def test_ecc_gddr_reports_fifteen_sixteenths_and_h100_less_than_80_gib():
    # A T4 with ECC on reports 15,360 MiB of its 16 GiB (1/16 kept for the check bits).
    t4 = get_gpu("t4")
    assert t4.ecc and t4.driver_total_bytes == t4.memory_bytes * 15 // 16 == 15360 * MIB
    assert t4.usable_bytes() == 15360 * MIB
    assert get_gpu("h100-sxm5").usable_bytes() == 81559 * MIB
    assert get_gpu("a100-80gb-sxm4").usable_bytes() == 80 * GIB      # HBM2e: ECC in side bits
    assert not get_gpu("rtx-4090").ecc


def test_turing_and_volta_have_no_bf16_tensor_rate():
    for name in ("t4", "v100-sxm2-16gb", "v100-pcie-32gb"):
        g = get_gpu(name)
        assert g.bf16_flops_per_s is None and g.fp16_flops_per_s > 0, name
    assert get_gpu("a100-80gb-sxm4").bf16_flops_per_s == get_gpu("a100-80gb-sxm4").fp16_flops_per_s


@pytest.mark.parametrize("name", ["b300-sxm", "gb300", "mi325x", "mi355x", "rtx-pro-6000-blackwell",
                                  "dgx-spark-gb10", "amd-ryzen-ai-max-395", "apple-m5-16gb", "apple-m5-max-128gb"])
def test_2026_hardware_is_listed(name):
    g = get_gpu(name)
    assert g.memory_bytes > 0 and g.bandwidth_bytes_per_s > 0


def test_unified_memory_rules():
    spark, halo, m5 = get_gpu("dgx-spark-gb10"), get_gpu("amd-ryzen-ai-max-395"), get_gpu("apple-m5-max-128gb")
    assert spark.unified_memory and spark.usable_bytes() == spark.driver_total_bytes < 122 * GIB
    assert halo.usable_bytes() == 96 * GIB < halo.memory_bytes
    assert m5.usable_bytes() == apple_working_set_bytes(128 * GIB) == 96 * GIB


def test_runtime_context_by_runtime():
    from vramkit.hardware import RUNTIME_CONTEXT_REPORTS, runtime_context_bytes

    assert runtime_context_bytes("apple-m4-max-128gb") == 0
    lazy, eager = runtime_context_bytes("rtx-4090"), runtime_context_bytes("rtx-4090", lazy=False)
    lazy_reports = [r["bytes"] for r in RUNTIME_CONTEXT_REPORTS if r["lazy"]]
    assert min(lazy_reports) <= lazy <= max(lazy_reports) < eager
    assert runtime_context_bytes("mi300x") == lazy  # ROCm: no published figure, CUDA's stands in
