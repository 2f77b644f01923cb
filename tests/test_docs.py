"""The documentation is current and navigable: the parts generated from the code (settings
table, CLI help) match what the code generates now, every setting is documented, the manual's
index lists every page, and every relative link in README.md and docs/ leads somewhere."""

from __future__ import annotations

import io
import re
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from cogapp import Cog

from newsdesk.settings import Settings

from .support.samples import ROOT

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
MARKDOWN = [ROOT / "README.md", *PAGES]


def _cog_check() -> tuple[int, str]:
    """Run `cog --check --diff docs/*.md`, as a contributor would, and return its status and
    output (the diff of every stale block)."""
    out = io.StringIO()
    saved_path = sys.path[:]
    try:
        with redirect_stdout(out), redirect_stderr(out):
            status = Cog().main(["cog", "--check", "--diff", *map(str, PAGES)])
    finally:
        sys.path[:] = saved_path
        sys.modules.pop("docgen", None)
    report = [line for line in out.getvalue().splitlines() if not line.startswith("Checking ")]
    return status, "\n".join(report)


def test_generated_docs_are_current() -> None:
    status, output = _cog_check()
    assert status == 0, (
        "docs/ is out of date with the code; regenerate with `.venv/bin/cog -r docs/*.md`\n"
        + output
    )


def test_pages_have_generated_parts() -> None:
    # The check above would pass vacuously if the cog blocks were deleted.
    for page in ("settings.md", "cli.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        assert "[[[cog" in text and "[[[end]]]" in text, f"docs/{page} lost its generated part"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    missing = [
        f"NEWSDESK_{name.upper()}"
        for name in Settings.model_fields
        if f"| `NEWSDESK_{name.upper()}` |" not in text
    ]
    assert not missing, f"settings missing from docs/settings.md: {missing}"


def test_every_setting_has_a_description() -> None:
    # The descriptions are the settings reference: an empty one would be an empty table cell.
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert not undocumented, f"settings without a description in settings.py: {undocumented}"


def test_every_command_is_in_the_cli_reference() -> None:
    from typer.main import get_command

    from newsdesk.api.cli import app

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = []

    def walk(command: object, path: list[str]) -> None:
        if f"### `{' '.join(['newsdesk', *path])}`" not in text:
            missing.append(" ".join(path))
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    assert not missing, f"commands missing from docs/cli.md: {missing}"


def test_the_manual_index_lists_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = {target.split("#")[0] for _, target in _links(index)}
    unlisted = [p.name for p in PAGES if p.name != "index.md" and p.name not in linked]
    assert not unlisted, f"docs/index.md does not link: {unlisted}"


# --- links ----------------------------------------------------------------------------------

_FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1\s*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, …


def _prose(markdown: str) -> str:
    """The text that renders as prose: no fenced code, no comments (cog's blocks)."""
    return _FENCE.sub("", _COMMENT.sub("", markdown))


def _links(markdown: str) -> list[tuple[str, str]]:
    text = _CODE_SPAN.sub("", _prose(markdown))
    return [(label, target) for label, target in _LINK.findall(text)]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup dropped, lower case, punctuation other than
    `-` and `_` removed, spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: keep its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(_FENCE.sub("", markdown)):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    found |= set(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", markdown))
    return found


def test_slugs_follow_github() -> None:
    assert github_slug("Chat API (OpenAI-compatible)") == "chat-api-openai-compatible"
    assert github_slug("`newsdesk eval run`") == "newsdesk-eval-run"
    assert github_slug("Extractive abstention on SQuAD 2.0") == "extractive-abstention-on-squad-20"
    assert github_slug("What `make test` runs") == "what-make-test-runs"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for label, target in _links(page.read_text(encoding="utf-8")):
        if _EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.exists():
            broken.append(f"[{label}]({target}): no such file")
            continue
        if not destination.is_relative_to(ROOT):
            broken.append(f"[{label}]({target}): outside the repository")
            continue
        if anchor:
            if destination.suffix != ".md":
                broken.append(f"[{label}]({target}): an anchor into a file that is not Markdown")
            elif anchor not in anchors(destination.read_text(encoding="utf-8")):
                broken.append(f"[{label}]({target}): no heading #{anchor} in {path_part or 'it'}")
    assert not broken, f"{page.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)
