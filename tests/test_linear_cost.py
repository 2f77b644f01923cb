"""Cost linear in input size on the write path (issue 12, section 1), measured by counting
work, not by timing: what the sentence splitter reads while paragraphs are joined, and the
characters SQLite materialises while chunk texts are read."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdesk.index import text as text_module
from newsdesk.index.text import normalise_text, sentence_spans
from newsdesk.stores.sqlite import ArticleStore, ArticleWrite, ChunkWrite

from .support.stored import stored_article

# A wire-copy article whose every paragraph break cuts the same sentence: all of it is joined
# into one paragraph, which the splitter used to re-read whole for every break (22 s to
# ingest at 12,000 characters).
BROKEN = "the U.S.\n\n"


def _characters_split(raw: str, monkeypatch: pytest.MonkeyPatch) -> int:
    read = 0
    real = text_module.sentence_spans

    def counting(text: str) -> list[text_module.Span]:
        nonlocal read
        read += len(text)
        return real(text)

    with monkeypatch.context() as patch:
        patch.setattr(text_module, "sentence_spans", counting)
        normalise_text(raw)
    return read


@pytest.mark.parametrize(
    "unit",
    [
        BROKEN,
        "how the U.S.\n\nPresident Joe Biden spoke.\n\n",
        "Officials met in the U.S.\n\nthen they left for home in the U.S.\n\n",
        "A long line " * 40 + "in the U.S.\n\nand the next one.\n",
    ],
)
def test_paragraph_joining_reads_each_character_a_bounded_number_of_times(
    unit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 6_000
    small = _characters_split(unit * (n // len(unit)), monkeypatch)
    large = _characters_split(unit * (4 * n // len(unit)), monkeypatch)
    # Linear: four times the text, about four times the reading (it was ~16 times).
    assert large <= 4.5 * small, (small, large)


# --- the join decisions are those of the previous, quadratic implementation ---------------


def _reference_normalise(raw: str) -> str:
    """normalise_text before it was made linear: each paragraph break re-split the whole
    paragraph joined so far to find its last sentence."""
    control = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200c\u200d\u2060\ufeff]")
    horizontal = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    text = horizontal.sub(" ", control.sub("", text))
    text = "\n".join(line.strip() for line in text.split("\n"))
    paragraphs = [p for p in re.split(r"\n[ \t]*\n\s*", text.strip()) if p]

    def last_sentence(paragraph: str) -> str:
        spans = sentence_spans(paragraph)
        return paragraph[spans[-1].start : spans[-1].end] if spans else paragraph

    def continues(previous: str, following: str) -> bool:
        if not previous.endswith(".") or not following[:1].isalnum():
            return False
        head = following.split("\n", 1)[0][:300]
        together = f"{last_sentence(previous)} {head}"
        return len(sentence_spans(together)) <= len(sentence_spans(head))

    joined: list[str] = []
    for paragraph in paragraphs:
        if joined and continues(joined[-1], paragraph):
            joined[-1] = f"{joined[-1]} {paragraph}"
        else:
            joined.append(paragraph)
    return "\n\n".join(joined)


WORDS = st.sampled_from(
    [
        "the",
        "U.S.",
        "Gen.",
        "No.",
        "Mr.",
        "Inc.",
        "e.g.",
        "President",
        "Biden",
        "said",
        "it",
        "rained",
        "5",
        "1.5",
        "St.",
        "Jan.",
        "a.m.",
        "(AP)",
        "\u201cYes.\u201d",
        "war",
        "Paris",
        "said.",
        "ended.",
        "why?",
        "no!",
        "U.N.",
        "Dr.",
        "—",
        "km.",
    ]
)
PARAGRAPH = st.lists(WORDS, min_size=1, max_size=12).map(" ".join)
SEPARATOR = st.sampled_from(["\n\n", "\n", " \n \n", "\n\n\n", " "])


@st.composite
def paragraph_joined(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(PARAGRAPH, min_size=1, max_size=30))
    text = pieces[0]
    for piece in pieces[1:]:
        text += draw(SEPARATOR) + piece
    return text


@settings(max_examples=300, deadline=None)
@given(paragraph_joined())
def test_linear_joining_gives_the_same_text_as_before(raw: str) -> None:
    assert normalise_text(raw) == _reference_normalise(raw)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("aB1. \n\t?!\u00a0U.S"), max_size=300))
def test_linear_joining_gives_the_same_text_as_before_on_any_text(raw: str) -> None:
    assert normalise_text(raw) == _reference_normalise(raw)


# --- chunk texts: each article read once, not once per chunk -------------------------------


def _store_with_one_article(path: Path, length: int) -> tuple[ArticleStore, str, list[int]]:
    text = ("Ünïcode wörds, and then more text. " * (length // 35 + 1))[:length]
    step = 200
    chunks = [
        ChunkWrite(seq, start, min(start + step, length), 50, np.zeros(4, dtype=np.float32))
        for seq, start in enumerate(range(0, length, step))
    ]
    store = ArticleStore(path / "newsdesk.sqlite3")
    written = store.write(
        [ArticleWrite("big", "Big", text, None, None, None, None, {}, "c", "r", chunks)]
    )
    return store, text, [int(i) for i in written.added_chunk_ids]


def _characters_materialised(store: ArticleStore, read: Callable[[], object]) -> int:
    """Characters of text SQLite hands to Python (rows) or to substr() while `read` runs:
    substr(a.text, …) materialises the whole article for every chunk."""
    count = 0
    db = store._connection()
    assert isinstance(db, sqlite3.Connection)  # row factories and functions are SQLite's

    def row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> sqlite3.Row:
        nonlocal count
        count += sum(len(v) for v in values if isinstance(v, str))
        return sqlite3.Row(cursor, values)

    def substr(value: str, start: int, length: int) -> str:
        nonlocal count
        count += len(value)
        return value[start - 1 : start - 1 + length]

    db.row_factory = row
    db.create_function("substr", 3, substr, deterministic=True)
    read()
    return count


ChunkReader = Callable[[ArticleStore, list[int]], object]


@pytest.mark.parametrize(
    "reader",
    [
        pytest.param(lambda store, ids: list(store.iter_texts()), id="iter_texts (BM25 rebuild)"),
        pytest.param(lambda store, ids: store.get_article("big"), id="get_article"),
        pytest.param(lambda store, ids: store.passages(ids), id="passages"),
    ],
)
def test_chunk_texts_are_read_in_time_linear_in_the_article(
    tmp_path: Path, reader: ChunkReader
) -> None:
    n = 50_000
    small_store, _, small_ids = _store_with_one_article(tmp_path / "small", n)
    large_store, large_text, large_ids = _store_with_one_article(tmp_path / "large", 4 * n)
    small = _characters_materialised(small_store, lambda: reader(small_store, small_ids))
    large = _characters_materialised(large_store, lambda: reader(large_store, large_ids))
    assert large <= 4.5 * small, (small, large)  # was ~16 times
    assert large <= 3 * len(large_text)


def test_chunk_texts_are_slices_of_the_article(tmp_path: Path) -> None:
    large_store, large_text, large_ids = _store_with_one_article(tmp_path, 20_000)
    texts = [t for _, batch in large_store.iter_texts(batch_size=7) for t in batch]
    article = stored_article(large_store, "big")
    assert texts == [large_text[c.char_start : c.char_end] for c in article.chunks]
    passages = large_store.passages(large_ids)
    assert [passages[i].text for i in large_ids] == texts
