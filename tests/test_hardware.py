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
