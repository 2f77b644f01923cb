"""How many independent sources support a sentence.

The supporting passages are those the citation checker scored for the sentence — the
retrieved passages the answer was written and checked from, cited or not — whose best
sentence (or pair of adjacent sentences) supports it as well as a citation must
(`support_threshold`). Copies of one story are one source of evidence, however many outlets
printed them: `groups` counts distinct near-duplicate groups (the number a reader asking "how
many independent reports say this" wants), `outlets` the distinct named outlets that carried a
supporting text (copies included), `sources` the supporting passages themselves."""

from __future__ import annotations

from collections.abc import Iterable

from newsdesk.answers import Corroboration
from newsdesk.domain import Passage


def corroboration(supporting: Iterable[Passage]) -> Corroboration:
    passages = list(supporting)
    # A passage without a group (not grouped yet) is its own article's story.
    groups = {p.group_id if p.group_id is not None else f"article:{p.article_id}" for p in passages}
    outlets: set[str] = set()
    for passage in passages:
        names = [*passage.carried_by, *([passage.source] if passage.source else [])]
        outlets.update(" ".join(name.casefold().split()) for name in names)
    outlets.discard("")
    return Corroboration(sources=len(passages), outlets=len(outlets), groups=len(groups))
