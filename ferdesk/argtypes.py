"""argparse types for numeric options, so every command refuses a bad number before it starts any work.

A type that raises argparse.ArgumentTypeError makes argparse print usage and "argument --x: <message>" and exit 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _number(int, text, "an integer")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def folds(text: str) -> int:
    """K of a K-fold cross-validation: 0 (none) or at least 2."""
    value = _number(int, text, "an integer")
    if value == 1 or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no cross-validation) or at least 2, got {value}")
    return value


def positive_float(text: str) -> float:
    value = _number(float, text, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def float_in(low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """A float in [low, high], or (low, high] with low_open."""

    def parse(text: str) -> float:
        value = _number(float, text, "a number")
        if not (low < value if low_open else low <= value) or not value <= high:
            raise argparse.ArgumentTypeError(f"must lie in {'(' if low_open else '['}{low:g}, {high:g}], got {text}")
        return value

    return parse


def _number(kind: type, text: str, what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value
