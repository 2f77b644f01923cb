"""The hand-labelled near-duplicate fixture: the sample articles plus syndicated copies,
revisions, excerpts and a follow-up story derived from them (tests/data/duplicates/copies.json)."""

from __future__ import annotations

import json
from pathlib import Path

from newsdesk.domain import ArticleInput
from tests.support.samples import load_samples

COPIES = Path(__file__).resolve().parents[1] / "data" / "duplicates" / "copies.json"


def labelled_articles() -> list[tuple[ArticleInput, str]]:
    """(article, story label): every sample article is its own story; copies share it."""
    samples = load_samples()
    by_id = {a.id: a for a in samples}
    labelled = [(a, a.id) for a in samples]
    for entry in json.loads(COPIES.read_text(encoding="utf-8"))["copies"]:
        labelled.append((_derive(entry, by_id), entry["story"]))
    return labelled


def _derive(entry: dict, by_id: dict[str, ArticleInput]) -> ArticleInput:
    fields = {"id": entry["id"], "source": entry["source"], "published_at": entry["published_at"]}
    if entry["base"] is None:
        return ArticleInput(**fields, title=entry["title"], text=entry["text"])
    base = by_id[entry["base"]]
    text = base.text
    for old, new in entry.get("replace", []):
        assert old in text, (entry["id"], old)
        text = text.replace(old, new)
    paragraphs = text.split("\n\n")
    if "lead" in entry:
        paragraphs[0] = entry["lead"]
    if "keep_paragraphs" in entry:
        paragraphs = paragraphs[: entry["keep_paragraphs"]]
    paragraphs += entry.get("append", [])
    return ArticleInput(**fields, title=base.title, text="\n\n".join(paragraphs))


def pair_scores(
    labels: dict[str, str], groups: dict[str, int | None]
) -> tuple[float, float, int, int]:
    """Pairwise precision and recall of ``groups`` (article → group) against ``labels``
    (article → story): a pair is predicted when both share a group, true when both share a
    story. Returns (precision, recall, predicted pairs, true pairs)."""
    ids = sorted(labels)
    predicted = true = both = 0
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            same_group = groups[a] is not None and groups[a] == groups[b]
            same_story = labels[a] == labels[b]
            predicted += same_group
            true += same_story
            both += same_group and same_story
    precision = both / predicted if predicted else 1.0
    recall = both / true if true else 1.0
    return precision, recall, predicted, true
