"""Claims of the number-formats chapter (02-formats) and its charts, checked independently.

The chapter says bf16 is fp32 with the low 16 bits rounded off (to nearest, ties to even): checked
here with integer arithmetic on the fp32 bit pattern, apart from ml_dtypes' cast. The chapter's
charts must be valid Vega-Lite (altair validates against the schema) in both languages.
"""
import math
import struct

import numpy as np
import pytest
from hypothesis import given, strategies as st

from vramkit import dtypes
from vramkit.units import label

FINITE_F32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def _rne_top16(x: float) -> str:
    """bf16 bits of the fp32 value x by integer rounding: keep 16 bits, round the rest to nearest even."""
    u = struct.unpack("<I", struct.pack("<f", x))[0]
    top, rest = u >> 16, u & 0xFFFF
    if rest > 0x8000 or (rest == 0x8000 and top & 1):
        top += 1
    return format(top, "016b")


@given(FINITE_F32)
def test_bf16_is_fp32_rounded_to_its_top_16_bits(x):
    fields = dtypes.bit_fields(x, "bf16")
    assert fields["bits"] == _rne_top16(x)
    # Same sign and exponent width as fp32: the fields line up with fp32's.
    f32 = dtypes.bit_fields(x, "fp32")
    assert len(fields["exponent"]) == len(f32["exponent"])
    assert fields["sign"] == f32["sign"]


@pytest.mark.parametrize("x, fp16_value", [(300.0 * 300.0, math.inf), (1e-8, 0.0), (65504.0, 65504.0)])
def test_fp16_overflow_and_underflow_examples(x, fp16_value):
    """The chapter's examples: 300^2 overflows fp16, 1e-8 underflows it; bf16 keeps both finite and nonzero."""
    assert dtypes.bit_fields(x, "fp16")["value"] == fp16_value
    bf = dtypes.bit_fields(x, "bf16")["value"]
    assert math.isfinite(bf) and bf != 0 and abs(bf - x) <= abs(x) * dtypes.get_format("bf16").eps


def test_bf16_sum_of_hundredths_stalls_at_four():
    """Adding 0.01 in bf16 stops changing the sum once the spacing exceeds 0.02 (at 4: spacing 2**-5)."""
    import ml_dtypes

    t = ml_dtypes.bfloat16
    total = t(0)
    for _ in range(1000):
        total = t(total + t(0.01))
    spacing_at_4 = float(np.nextafter(t(4), t(8))) - 4
    assert float(total) == 4.0 and spacing_at_4 / 2 > float(t(0.01))


# ---- charts -----------------------------------------------------------------------------------

def _bit_rows():
    rows = []
    for shown, x in {"pi": math.pi, "0.1": 0.1}.items():
        for name in ("fp32", "fp16", "bf16"):
            f = dtypes.bit_fields(x, name)
            bits = [(field, b) for field in ("sign", "exponent", "mantissa") for b in f[field]]
            rows += [{"x": shown, "format": name, "value": f"{f['value']:.6g}", "position": i, "bit": b,
                      "field": field} for i, (field, b) in enumerate(bits)]
    return rows


def _code_rows():
    import ml_dtypes

    rows = []
    for name, dt in (("fp8_e4m3", ml_dtypes.float8_e4m3fn), ("fp4_e2m1", ml_dtypes.float4_e2m1fn)):
        f = dtypes.get_format(name)
        width = int(f.bits)
        codes = np.arange(2 ** (width - 1), dtype=np.uint8)
        with np.errstate(invalid="ignore"):
            values = codes.view(dt).astype(np.float64)
        for c, v in zip(codes, values):
            b = format(int(c), f"0{width}b")
            rows.append({"format": name, "exponent": b[1:1 + f.exponent_bits], "mantissa": b[1 + f.exponent_bits:],
                         "value": float(v)})
    return rows


CHARTS = {
    "bit_layout": lambda charts, lang: charts.bit_layout(_bit_rows(), lang, select="x"),
    "code_grid": lambda charts, lang: charts.code_grid(_code_rows(), lang),
    "format_levels": lambda charts, lang: charts.format_levels(
        [{"format": "fp4_e2m1", "value": float(v), "relative": float(v) / 6} for v in dtypes.all_values("fp4_e2m1")], lang),
}


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("name", CHARTS)
def test_chapter02_charts_are_valid_vega_lite(name, lang):
    pytest.importorskip("altair")
    from vramkit import charts

    spec = CHARTS[name](charts, lang).to_dict()  # altair validates against the Vega-Lite schema here
    text = str(spec)
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    if name != "format_levels":
        assert label("mantissa" if name == "bit_layout" else "mantissa_bits", lang) in text


def test_code_grid_shows_nan_and_every_code():
    pytest.importorskip("altair")
    from vramkit import charts

    data = charts.code_grid(_code_rows(), "en").to_dict()["data"]["values"]
    e4m3 = [d for d in data if d["sel"] == "fp8_e4m3"]
    assert len(e4m3) == 128 and sum(d["text"] == "NaN" for d in e4m3) == 1
    assert [d["text"] for d in data if d["sel"] == "fp4_e2m1"] == ["0", "0.5", "1", "1.5", "2", "3", "4", "6"]
