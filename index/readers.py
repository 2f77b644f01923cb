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
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import frontmatter
import trafilatura
import yaml
from pydantic import ValidationError

from newsdesk.domain import (
    MAX_METADATA_DEPTH,
    ArticleInput,
    RejectedArticle,
    check_link,
    check_text,
)
from newsdesk.index.file_ids import FileIds

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}
JSON_SUFFIXES = {".json", ".jsonl"}

ReadResult = ArticleInput | RejectedArticle


@dataclass(frozen=True, slots=True)
class FileSource:
    """One file to read, in ingest order: ``location`` is its path relative to the ingested
    folder (None for a file named on its own); ``exists`` is False for a path that is
    neither a file nor a folder."""

    path: Path
    location: str | None = None
    exists: bool = True

    @property
    def claims_file_id(self) -> bool:
        """Whether reading it claims a file-name id (see index/file_ids.py): every readable
        file type but JSON, whose articles carry their own ids."""
        suffix = self.path.suffix.lower()
        return self.exists and suffix in SUPPORTED_SUFFIXES and suffix not in JSON_SUFFIXES


def list_sources(paths: Iterable[Path]) -> Iterator[FileSource]:
    """The files to read, in the order read_paths reads them (folders walked in sorted
    order, hidden entries and unsupported types skipped)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if _is_article_file(child, path):
                    yield FileSource(child, child.relative_to(path).as_posix())
        elif path.is_file():
            yield FileSource(path)
        else:
            yield FileSource(path, exists=False)


def read_source(source: FileSource, ids: FileIds) -> Iterator[ReadResult]:
    """The articles of one listed file (a rejection for one that does not exist)."""
    if not source.exists:
        yield RejectedArticle(id=None, origin=str(source.path), reason="no such file or directory")
        return
    yield from read_file(
        source.path.name,
        source.path.read_bytes(),
        origin=str(source.path),
        ids=ids,
        location=source.location,
    )


def read_paths(paths: Iterable[Path]) -> Iterator[ReadResult]:
    """Articles from files and folders (folders are walked in sorted order, hidden entries
    skipped); file-name ids are unique across all of them."""
    ids = FileIds()
    for source in list_sources(paths):
        yield from read_source(source, ids)


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
    json_file = suffix in JSON_SUFFIXES
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
            except (RecursionError, ValueError) as exc:
                yield RejectedArticle(id=None, origin=where, reason=_unreadable_json(exc))
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
    except (RecursionError, ValueError) as exc:
        yield RejectedArticle(id=None, origin=origin, reason=_unreadable_json(exc))
        return
    objects = document if isinstance(document, list) else [document]
    for position, obj in enumerate(objects):
        yield article_from_object(obj, f"{origin}[{position}]" if len(objects) > 1 else origin)


def _unreadable_json(exc: RecursionError | ValueError) -> str:
    # json.loads recurses once per level: 100,000 nested brackets exhaust the stack.
    if isinstance(exc, RecursionError):
        return "malformed JSON: nested too deeply"
    return f"malformed JSON: {exc}"  # e.g. an integer of more than 4,300 digits


class _FrontMatterRefused(Exception):
    pass


class _StrictYAMLHandler(frontmatter.YAMLHandler):
    """YAML front matter without aliases (a few hundred bytes of anchors and aliases expand
    into gigabytes) and at most MAX_METADATA_DEPTH levels deep. The event stream is checked
    first, iteratively in libyaml, so nothing is built from a refused document."""

    def load(self, fm: str, **kwargs: object) -> Any:
        depth = 0
        for event in yaml.parse(fm, Loader=_YAML_LOADER):
            if isinstance(event, yaml.AliasEvent):
                raise _FrontMatterRefused(f"YAML aliases (*{event.anchor}) are not allowed")
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
                if depth > MAX_METADATA_DEPTH:
                    raise _FrontMatterRefused(f"nested more than {MAX_METADATA_DEPTH} levels deep")
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
        return yaml.load(fm, Loader=_YAML_LOADER)  # a safe loader


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _front_matter(text: str) -> frontmatter.Post:
    try:
        return frontmatter.loads(text, handler=_StrictYAMLHandler())
    except yaml.MarkedYAMLError as exc:
        where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        raise _FrontMatterRefused(f"{exc.problem or exc.context}{where}") from exc
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        # ValueError: a value the YAML constructors cannot build (a time zone beyond ±24 h,
        # the 13th month, an integer of more than 4,300 digits).
        raise _FrontMatterRefused(str(exc).splitlines()[0] if str(exc) else "unreadable") from exc


def _read_text(article_id: str, file_name: str, text: str, origin: str) -> ReadResult:
    try:
        post = _front_matter(text) if text.lstrip().startswith("---") else None
    except _FrontMatterRefused as exc:
        return RejectedArticle(id=article_id, origin=origin, reason=f"front matter: {exc}")
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
        "url": _link_or_none(data.get("url")),
        "source": data.get("sitename") or data.get("hostname"),
        "author": data.get("author"),
        "published_at": data.get("date"),
    }
    return article_from_object({k: v for k, v in fields.items() if v is not None}, origin)


def _link_or_none(url: Any) -> str | None:
    """A page's own URL is kept only if it can be a link; a bad one is dropped, not fatal."""
    try:
        return check_link(check_text(url)) if isinstance(url, str) else None
    except ValueError:
        return None


def _stringify(fields: dict[str, Any]) -> dict[str, Any]:
    # YAML turns dates into date objects; ArticleInput accepts them, other values as text.
    return {
        k: v if k == "published_at" or v is None or isinstance(v, str) else str(v)
        for k, v in fields.items()
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
