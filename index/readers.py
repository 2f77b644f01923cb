"""Turn files into articles: .txt/.md (title from front matter or the first line), .html
(main text extracted by trafilatura, boilerplate dropped), .json (an object or a list of
objects) and .jsonl (one object a line).

Readers never raise for bad content: each problem becomes a RejectedArticle with a reason, so
one broken file cannot stop a batch. The article of a .txt/.md/.html file takes its id from the
file name (see index/file_ids.py) and keeps the name in metadata["file_name"]; JSON articles
carry their own ids."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePath
from typing import Any

import frontmatter
import trafilatura
from pydantic import ValidationError

from newsdesk.domain import ArticleInput, RejectedArticle
from newsdesk.index.file_ids import FileIds

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}

ReadResult = ArticleInput | RejectedArticle


def read_paths(paths: Iterable[Path]) -> Iterator[ReadResult]:
    """Articles from files and folders (folders are walked in sorted order, hidden entries
    skipped); file-name ids are unique across all of them."""
    ids = FileIds()
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if _is_article_file(child, path):
                    yield from read_file(
                        child.name,
                        child.read_bytes(),
                        origin=str(child),
                        ids=ids,
                        location=child.relative_to(path).as_posix(),
                    )
        elif path.is_file():
            yield from read_file(path.name, path.read_bytes(), origin=str(path), ids=ids)
        else:
            yield RejectedArticle(id=None, origin=str(path), reason="no such file or directory")


def _is_article_file(path: Path, root: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
    return path.is_file() and not hidden and path.suffix.lower() in SUPPORTED_SUFFIXES


def read_uploads(files: Iterable[tuple[str, bytes]]) -> Iterator[ReadResult]:
    """Articles from uploaded (file name, content) pairs; file-name ids unique among them."""
    ids = FileIds()
    for name, data in files:
        yield from read_file(name, data, ids=ids)


def read_file(
    name: str,
    data: bytes,
    *,
    origin: str | None = None,
    ids: FileIds | None = None,
    location: str | None = None,
) -> Iterator[ReadResult]:
    """Articles from one file. `ids` hands out file-name ids for the whole ingest (a file
    read on its own gets a fresh one); `location` is where the file is relative to the
    ingested folder, used to tell apart files of the same name."""
    origin = origin or name
    ids = ids if ids is not None else FileIds()
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield RejectedArticle(
            id=None,
            origin=origin,
            reason=f"unsupported file type {suffix or '(none)'!r}; "
            f"expected one of {', '.join(sorted(SUPPORTED_SUFFIXES))}",
        )
        return
    json_file = suffix in {".json", ".jsonl"}
    # Claimed before reading, so that a file that cannot be read still holds its id and the
    # ids of the other files do not depend on its content.
    article_id = None if json_file else ids.claim(name, location)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield RejectedArticle(
            id=article_id,
            origin=origin,
            reason=f"not UTF-8 text (byte {exc.start}: {exc.reason})",
        )
        return
    if article_id is None:
        for item in _read_json(text, origin, lines=suffix == ".jsonl"):
            if isinstance(item, ArticleInput):
                ids.reserve(item.id)
            yield item
        return
    file_name = PurePath(name).name
    if suffix in {".html", ".htm"}:
        yield _read_html(article_id, file_name, text, origin)
    else:
        yield _read_text(article_id, file_name, text, origin)


def article_from_object(obj: Any, origin: str) -> ReadResult:
    """Validate one JSON object as an article."""
    if not isinstance(obj, dict):
        return RejectedArticle(id=None, origin=origin, reason="expected a JSON object")
    article_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    try:
        return ArticleInput.model_validate(obj)
    except ValidationError as exc:
        return RejectedArticle(id=article_id, origin=origin, reason=describe_validation_error(exc))


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "article"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _read_json(text: str, origin: str, *, lines: bool) -> Iterator[ReadResult]:
    if lines:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{origin}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield RejectedArticle(id=None, origin=where, reason=f"malformed JSON: {exc.msg}")
                continue
            yield article_from_object(obj, where)
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        yield RejectedArticle(
            id=None, origin=origin, reason=f"malformed JSON: {exc.msg} (line {exc.lineno})"
        )
        return
    objects = document if isinstance(document, list) else [document]
    for position, obj in enumerate(objects):
        yield article_from_object(obj, f"{origin}[{position}]" if len(objects) > 1 else origin)


def _read_text(article_id: str, file_name: str, text: str, origin: str) -> ReadResult:
    post = frontmatter.loads(text) if text.lstrip().startswith("---") else None
    if post is not None and post.metadata:
        fields = {k: v for k, v in post.metadata.items() if k in _FRONT_MATTER_FIELDS}
        extra = {k: v for k, v in post.metadata.items() if k not in _FRONT_MATTER_FIELDS}
        body = post.content
        if "title" not in fields:
            fields["title"], body = _split_title(body)
        metadata = {**_jsonable(extra), "file_name": file_name}
        return article_from_object(
            {"id": article_id, "text": body, **_stringify(fields), "metadata": metadata}, origin
        )
    title, body = _split_title(text)
    return article_from_object(
        {"id": article_id, "title": title, "text": body, "metadata": {"file_name": file_name}},
        origin,
    )


_FRONT_MATTER_FIELDS = {"title", "url", "source", "author", "published_at"}


def _split_title(text: str) -> tuple[str, str]:
    """First non-empty line is the title (Markdown '#' dropped); the rest is the body."""
    stripped = text.lstrip()
    first, _, rest = stripped.partition("\n")
    return first.strip().lstrip("#").strip(), rest


def _read_html(article_id: str, file_name: str, html: str, origin: str) -> ReadResult:
    extracted = trafilatura.bare_extraction(
        html, include_comments=False, include_tables=False, with_metadata=True
    )
    if extracted is None:
        return RejectedArticle(
            id=article_id, origin=origin, reason="no main text found in the HTML"
        )
    data = extracted.as_dict() if hasattr(extracted, "as_dict") else dict(extracted)
    fields = {
        "id": article_id,
        "metadata": {"file_name": file_name},
        "title": data.get("title") or "",
        "text": data.get("text") or "",
        "url": data.get("url"),
        "source": data.get("sitename") or data.get("hostname"),
        "author": data.get("author"),
        "published_at": data.get("date"),
    }
    return article_from_object({k: v for k, v in fields.items() if v is not None}, origin)


def _stringify(fields: dict[str, Any]) -> dict[str, Any]:
    # YAML turns dates into date objects; ArticleInput accepts them, other values as text.
    return {
        k: v if k == "published_at" or v is None or isinstance(v, str) else str(v)
        for k, v in fields.items()
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
