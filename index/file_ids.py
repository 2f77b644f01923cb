"""Article ids for files whose article has no id of its own (.txt, .md, .html).

The id is the file name without its extension, made valid when it is not:

1. Take the name without the extension, normalised to Unicode NFC (the stem).
2. If the stem is already a valid article id (``ARTICLE_ID_PATTERN``), it is the id, unchanged.
3. Otherwise every run of characters other than letters, decimal digits and ``_ . : @ -``
   becomes ``-``; leading ``. : @ -`` are stripped, runs of ``-`` collapsed, the result cut to
   187 characters and trailing ``-`` removed; then ``-`` and the first 12 hex digits of the
   SHA-256 of the stem (UTF-8) are appended. An empty result becomes ``file-<12 hex>``.
   ``Sky (United Kingdom).txt`` → ``Sky-United-Kingdom-<12 hex>``.

The hash makes two different names map to different ids (``Fresno, California`` and
``Fresno California`` differ) whatever else is ingested, and the same name to the same id on
every run.

Within one ingest (one command, one upload request) two files may still claim the same id,
e.g. ``a/report.txt`` and ``b/report.txt``. Files are taken in order (sorted paths in a folder,
request order in an upload); the first keeps the id, each later one gets ``-`` and the first
12 hex digits of the SHA-256 of its path relative to the ingested folder (of its uploaded file
name). Ids of JSON articles read earlier in the same ingest count as taken too. So
re-ingesting the same folder gives every file the same id again."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import PurePath
from typing import Annotated

from pydantic import StringConstraints, TypeAdapter, ValidationError

from newsdesk.domain import ARTICLE_ID_PATTERN

MAX_ID_CHARS = 200
# 12 hex digits (48 bits): the chance that two of 10,000 cleaned names share an id (so that one
# overwrites the other in a later ingest) is about 2 in ten million, 0.2 % among a million;
# 8 digits gave 1 % at 10,000.
HASH_CHARS = 12
_PUNCTUATION = "_.:@-"
_CANNOT_START = ".:@-"
# What ArticleInput's id field accepts. pydantic matches `pattern` with Rust's regex engine,
# whose `\w` is not Python's (combining marks, some symbols and numerals differ), so an id is
# kept unchanged only when both engines accept it.
_ARTICLE_ID = TypeAdapter(Annotated[str, StringConstraints(pattern=ARTICLE_ID_PATTERN)])
_ARTICLE_ID_RE = re.compile(ARTICLE_ID_PATTERN)


def is_valid_article_id(value: str) -> bool:
    if _ARTICLE_ID_RE.fullmatch(value) is None:
        return False
    try:
        _ARTICLE_ID.validate_python(value)
    except ValidationError:
        return False
    return True


def file_stem(name: str) -> str:
    """The file name without directories and extension, NFC-normalised."""
    return unicodedata.normalize("NFC", PurePath(name).stem)


def id_from_file_name(name: str) -> str:
    """The article id for a file called `name` (collisions within an ingest aside)."""
    stem = file_stem(name)
    if is_valid_article_id(stem):
        return stem
    base = "".join(c if _allowed(c) else "-" for c in stem)
    base = re.sub(r"-{2,}", "-", base.lstrip(_CANNOT_START))
    return _with_suffix(base, _short_hash(stem))


def _allowed(char: str) -> bool:
    # Letters and decimal digits are word characters for both regex engines.
    category = unicodedata.category(char)
    return category[0] == "L" or category == "Nd" or char in _PUNCTUATION


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def _with_suffix(base: str, suffix: str) -> str:
    room = MAX_ID_CHARS - len(suffix) - 1
    return f"{base[:room].rstrip('-') or 'file'}-{suffix}"


class FileIds:
    """Hands out ids to the files of one ingest, resolving collisions deterministically."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, name: str, location: str | None = None) -> str:
        """The id for file `name` at `location` (its path relative to the ingested folder, or
        its uploaded name; `name` when not given)."""
        wanted = id_from_file_name(name)
        where = unicodedata.normalize("NFC", location or name)
        article_id, attempt = wanted, 0
        while article_id in self._taken:
            attempt += 1  # beyond the first: the same location twice (e.g. an upload)
            key = where if attempt == 1 else f"{where}#{attempt}"
            article_id = _with_suffix(wanted, _short_hash(key))
        self._taken.add(article_id)
        return article_id

    def reserve(self, article_id: str) -> None:
        """An id taken by an article that names its own (JSON)."""
        self._taken.add(article_id)
