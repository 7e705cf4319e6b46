"""Emotion names, their FER2013 codes and their display colours: the one source of truth."""

from __future__ import annotations

from collections.abc import Iterable

# FER2013 label codes are the positions in this tuple.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# BGR colours (OpenCV order), chosen to stay distinguishable on camera images.
EMOTION_COLORS_BGR: dict[str, tuple[int, int, int]] = {
    "angry": (40, 40, 230),
    "disgust": (60, 150, 40),
    "fear": (160, 60, 150),
    "happy": (40, 200, 250),
    "sad": (200, 120, 40),
    "surprise": (230, 200, 40),
    "neutral": (190, 190, 190),
}
UNKNOWN_COLOR_BGR: tuple[int, int, int] = (255, 255, 255)


def color_for(emotion: str) -> tuple[int, int, int]:
    """Display colour for an emotion name; labels of custom models fall back to white."""
    return EMOTION_COLORS_BGR.get(emotion, UNKNOWN_COLOR_BGR)


def parse_emotions(spec: str | Iterable[str] | None) -> list[str]:
    """Turn 'happy,sad' (or a list, or None for all seven) into emotion names in FER2013 order.

    The canonical order makes the compact relabelling independent of how the user typed the list.
    """
    if spec is None:
        return list(EMOTIONS)
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    wanted = {n.strip().lower() for n in names if n.strip()}
    if not wanted:
        raise ValueError("no emotions given; choose from " + ", ".join(EMOTIONS))
    unknown = sorted(wanted - set(EMOTIONS))
    if unknown:
        raise ValueError(f"unknown emotion(s) {', '.join(unknown)}; choose from {', '.join(EMOTIONS)}")
    if len(wanted) < 2:
        raise ValueError("a classifier needs at least two emotions")
    return [e for e in EMOTIONS if e in wanted]
