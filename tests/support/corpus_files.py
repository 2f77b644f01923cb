"""Folders of article files for the ingestion tests: the bundled samples plus the cases file
ids depend on (two files of one name, a file whose name a JSON article took first, a file
that is not UTF-8), and larger generated .jsonl feeds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from newsdesk.domain import ArticleInput

from .samples import SAMPLES, load_samples


def mixed_folder(root: Path) -> Path:
    """The samples as files of every kind, with id collisions and a rejected file."""
    root.mkdir(parents=True)
    shutil.copy(SAMPLES / "articles.jsonl", root / "feed.jsonl")
    shutil.copytree(SAMPLES / "files", root / "files")
    first, second = load_samples()[:2]
    (root / "a").mkdir()
    (root / "b").mkdir()
    (root / "a" / "report.txt").write_text(f"{first.title}\n\n{first.text}", encoding="utf-8")
    (root / "b" / "report.txt").write_text(f"{second.title}\n\n{second.text}", encoding="utf-8")
    # Sorted before zz-note.txt: its article takes the id the file would have had.
    note = {"id": "zz-note", "title": "A note", "text": "The council met on Tuesday. It agreed."}
    (root / "ids.json").write_text(json.dumps([note]), encoding="utf-8")
    (root / "zz-note.txt").write_text("Another note\n\nThe mayor spoke on Wednesday.", "utf-8")
    (root / "latin1.txt").write_bytes("Caf\xe9 society\n\nA story.".encode("latin-1"))
    return root


def generated_feed(path: Path, count: int, prefix: str = "dispatch") -> list[ArticleInput]:
    """``count`` distinct articles made from the samples, written to a .jsonl file."""
    samples = load_samples()
    articles = [
        ArticleInput(
            id=f"{prefix}-{n:05d}",
            title=f"Dispatch {n}: {samples[n % len(samples)].title}",
            text=f"Dispatch number {n} from the wire desk. {samples[n % len(samples)].text}",
            source=samples[n % len(samples)].source,
        )
        for n in range(count)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as feed:
        for article in articles:
            feed.write(article.model_dump_json(exclude_none=True) + "\n")
    return articles
