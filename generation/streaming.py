"""Remove citation markers from streamed text before anyone sees it.

Markers in raw model output are unchecked — they may point to passages that do not exist or
do not support the sentence — so a stream shows the prose only; the checked answer with its
corrected markers arrives in the final event."""

from __future__ import annotations

import re

_MARKER = re.compile(r"\s?\[\d+(?:\s*[,-]\s*\d+)*\]")
# A tail that could still become a marker once more text arrives: "[", "[1", "[1, 2".
_PARTIAL = re.compile(r"\s?\[[\d,\s-]*$")


class MarkerStripper:
    def __init__(self) -> None:
        self._pending = ""

    def feed(self, delta: str) -> str:
        text = _MARKER.sub("", self._pending + delta)
        partial = _PARTIAL.search(text)
        if partial:
            self._pending = text[partial.start() :]
            return text[: partial.start()]
        self._pending = ""
        return text

    def flush(self) -> str:
        """What is left at the end of the stream (an unfinished "[" is just text)."""
        rest, self._pending = self._pending, ""
        return _MARKER.sub("", rest)
