"""One-line errors for bad input.

Every error a user can cause (a wrong file, field, size or name) is a `VramkitError` whose
message is a single line: where, what was expected, and a did-you-mean for names. The CLI
prints it to stderr and exits with code 2; the library simply raises it.
"""
from __future__ import annotations

from collections.abc import Iterable


class VramkitError(ValueError):
    """Bad input, explained in one line."""


def clip(text, limit: int = 100) -> str:
    """`text` on one line and at most about `limit` characters, for an error message."""
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(text)[:4 * limit])
    return text if len(text) <= limit else text[:limit // 2 - 2] + "..." + text[-(limit // 2 - 2):]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    import difflib  # only when there is an error to explain

    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(clip(name).lower(), list(lowered), n=1, cutoff=0.5)
    return f" (did you mean '{clip(lowered[close[0]])}'?)" if close else ""


def unknown(kind: str, name: str, choices: Iterable[str]) -> VramkitError:
    """An error for a name that is not among `choices`, with a did-you-mean."""
    choices = sorted(choices)
    hint = did_you_mean(name, choices)
    if not hint:
        shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
        hint = f"; expected one of: {shown}"
    return VramkitError(f"unknown {kind} '{clip(name)}'{hint}")


def require_positive(name: str, value, *, allow_zero: bool = False) -> int:
    """`value` as an int, or a VramkitError if it is not a positive (or non-negative) integer."""
    if value.__class__ is int and value > 0:  # the common case costs one test
        return value
    try:
        ok = not isinstance(value, (bool, str, bytes)) and bool(int(value) == value)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or value < 0 or (value == 0 and not allow_zero):
        expected = "a non-negative integer" if allow_zero else "a positive integer"
        shown = repr(value)
        raise VramkitError(f"{name} must be {expected}, got {shown if len(shown) <= 40 else shown[:37] + '...'}")
    return int(value)
