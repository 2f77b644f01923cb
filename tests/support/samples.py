"""The repository's bundled sample articles, as the tests read them."""

from __future__ import annotations

import json
from pathlib import Path

from newsdesk.domain import ArticleInput

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


def load_samples() -> list[ArticleInput]:
    lines = (SAMPLES / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    return [ArticleInput.model_validate(json.loads(line)) for line in lines if line.strip()]
