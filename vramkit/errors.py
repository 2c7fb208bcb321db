"""One-line errors for bad input.

Every error a user can cause (a wrong file, field, size or name) is a `VramkitError` whose
message is a single line: where, what was expected, and a did-you-mean for names. The CLI
prints it to stderr and exits with code 2; the library simply raises it.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class VramkitError(ValueError):
    """Bad input, explained in one line."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.5)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


def unknown(kind: str, name: str, choices: Iterable[str]) -> VramkitError:
    """An error for a name that is not among `choices`, with a did-you-mean."""
    choices = sorted(choices)
    hint = did_you_mean(name, choices)
    if not hint:
        shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
        hint = f"; expected one of: {shown}"
    return VramkitError(f"unknown {kind} '{name}'{hint}")


def require_positive(name: str, value, *, allow_zero: bool = False) -> int:
    """`value` as an int, or a VramkitError if it is not a positive (or non-negative) integer."""
    try:
        ok = int(value) == value
    except (TypeError, ValueError):
        ok = False
    if not ok or value < 0 or (value == 0 and not allow_zero):
        expected = "a non-negative integer" if allow_zero else "a positive integer"
        raise VramkitError(f"{name} must be {expected}, got {value!r}")
    return int(value)
