"""Number formats: bits per element (scales included), range and precision.

(Minimal core; see the full table of formats below as it grows.)
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .errors import unknown


@dataclass(frozen=True)
class Format:
    """A storage format. `bits` is the exact average bits per element, block scales included."""

    name: str
    bits: Fraction
    kind: str  # "float", "int", "block"


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("fp32", Fraction(32), "float"),
    Format("fp16", Fraction(16), "float"),
    Format("bf16", Fraction(16), "float"),
    Format("fp8_e4m3", Fraction(8), "float"),
    Format("fp8_e5m2", Fraction(8), "float"),
    Format("int8", Fraction(8), "int"),
    Format("int4", Fraction(4), "int"),
)}
ALIASES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "fp8": "fp8_e4m3"}


def get_format(name: str) -> Format:
    """The format called `name` (case-insensitive; aliases such as 'bfloat16' accepted)."""
    key = ALIASES.get(str(name).lower(), str(name).lower())
    for fmt_name, fmt in FORMATS.items():
        if fmt_name.lower() == key:
            return fmt
    raise unknown("dtype", name, list(FORMATS))


def storage_bytes(n_elements: int, fmt: str | Format) -> int:
    """Bytes to store `n_elements` in `fmt`, rounded up to whole bytes."""
    fmt = fmt if isinstance(fmt, Format) else get_format(fmt)
    return -(-n_elements * fmt.bits.numerator // (8 * fmt.bits.denominator))
