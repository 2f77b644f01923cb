"""The sentences the support checker reads evidence in.

The index's sentence splitter (blingfire) needs a space after a sentence end. Text scraped
from pages whose paragraphs were joined without one has none: "…the pension debt.But a public
fundraising campaign…" — every BBC article of FRANK's XSum half reads like that (a median of 2
"sentences" in 1,800 characters). Evidence units of such text are whole paragraphs run
together: their embedding is cut at the model's input limit, and a claim's figure is "found"
in a sentence about something else. So the checker cuts there too: after a sentence end (".",
"!" or "?", then an optional closing quote) that follows two lower-case letters or digits and
is followed directly by a capitalised word ("debt.But", "2014.The", 'back."Swansea',
"grew.A new"); not after an abbreviation ("Mr.", "St.", "U.S.") nor inside "bbc.co.uk".
"""

from __future__ import annotations

import re

from newsdesk.index.text import Span, sentence_spans

_GLUED_END = re.compile(r"(?<=[a-z0-9]{2}[.!?])[\"”’')]?(?=[A-Z][a-z]|[AI]\s)")


def evidence_spans(text: str) -> list[Span]:
    """Sentences of `text` as spans that partition it: the index's sentences, each cut again
    where a sentence end has no space after it."""
    spans: list[Span] = []
    for span in sentence_spans(text):
        start = span.start
        for glued in _GLUED_END.finditer(text, span.start, span.end):
            cut = glued.end()
            if start < cut < span.end:
                spans.append(Span(start, cut))
                start = cut
        spans.append(Span(start, span.end))
    return spans
