"""Article ids derived from file names (index/file_ids.py): any file name gives a valid,
stable id; collisions within one ingest are resolved deterministically; the original name is
kept in metadata; re-ingesting a folder is a no-op."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import assume, given
from hypothesis import strategies as st

from newsdesk.domain import ARTICLE_ID_PATTERN, ArticleInput
from newsdesk.index.file_ids import FileIds, file_stem, id_from_file_name
from newsdesk.index.readers import read_paths

from .support.cli import run_newsdesk


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def assert_valid(article_id: str) -> None:
    assert re.fullmatch(ARTICLE_ID_PATTERN, article_id), article_id
    # What the application enforces: pydantic matches the pattern with another regex engine.
    ArticleInput(id=article_id, text="x")


# --- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "wikinews-2015-mecca-crane-collapse.txt",
        "nato.no-fly_zone:2022@bbc.md",
        "東京ニュース.html",
        "Zürich.txt",
        "x" * 200 + ".txt",
    ],
)
def test_a_valid_stem_is_the_id_unchanged(name: str) -> None:
    assert id_from_file_name(name) == name.rsplit(".", 1)[0]


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("Sky (United Kingdom).txt", "Sky-United-Kingdom"),
        ("Fresno, California.txt", "Fresno-California"),
        ("Fresno California.md", "Fresno-California"),
        ("Zürich – Straßenbahn.html", "Zürich-Straßenbahn"),
        ("-- draft --.txt", "draft"),
        (".@:notes on  it.txt", "notes-on-it"),
        ("a/b\\c.txt", "b-c"),  # the directory is not part of the name
        ("()).txt", "file"),
        ("  .txt", "file"),
        ("½ price.txt", "price"),  # a numeral Python's \w accepts and pydantic's does not
        ("q\u0303.txt", "q"),  # an uncomposable combining mark: the reverse
    ],
)
def test_other_names_are_cleaned_and_get_a_hash_of_the_name(name: str, base: str) -> None:
    stem = unicodedata.normalize("NFC", Path(name).stem)
    article_id = id_from_file_name(name)
    assert article_id == f"{base}-{short_hash(stem)}"
    assert_valid(article_id)


def test_similar_names_do_not_share_an_id() -> None:
    assert id_from_file_name("Fresno, California.txt") != id_from_file_name("Fresno California.txt")


def test_names_are_nfc_normalised() -> None:
    composed, decomposed = "Café (Paris).txt", unicodedata.normalize("NFD", "Café (Paris).txt")
    assert composed != decomposed
    assert id_from_file_name(decomposed) == id_from_file_name(composed)
    assert id_from_file_name(unicodedata.normalize("NFD", "Café.txt")) == "Café"


def test_long_names_are_cut_to_the_limit() -> None:
    article_id = id_from_file_name("word " * 100 + ".txt")
    assert len(article_id) == 200 and "--" not in article_id
    assert article_id.endswith("-" + short_hash("word " * 100))
    assert_valid(article_id)


file_names = st.text(min_size=1, max_size=260).filter(lambda s: "\x00" not in s)


@given(file_names)
def test_any_file_name_gives_a_valid_stable_id(name: str) -> None:
    article_id = id_from_file_name(name + ".txt")
    assert_valid(article_id)
    assert id_from_file_name(name + ".txt") == article_id


@given(file_names, file_names)
def test_different_names_give_different_ids(first: str, second: str) -> None:
    assume(file_stem(first + ".txt") != file_stem(second + ".txt"))
    assert id_from_file_name(first + ".txt") != id_from_file_name(second + ".txt")


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c d", "c-d"]), file_names), max_size=12))
def test_one_ingest_never_hands_out_an_id_twice(files: list[tuple[str, str]]) -> None:
    def claim_all() -> list[str]:
        ids = FileIds()
        return [ids.claim(f"{stem}.txt", f"{folder}/{stem}.txt") for folder, stem in files]

    claimed = claim_all()
    assert len(set(claimed)) == len(claimed)
    assert claim_all() == claimed  # the same files in the same order: the same ids
    for article_id in claimed:
        assert_valid(article_id)


def test_the_first_file_keeps_the_id_later_ones_get_a_hash_of_their_path() -> None:
    ids = FileIds()
    assert ids.claim("report.txt", "a/report.txt") == "report"
    assert ids.claim("report.txt", "b/report.txt") == f"report-{short_hash('b/report.txt')}"
    # Uploads have no folders: the same name again still gets an id of its own.
    third = ids.claim("report.txt")
    fourth = ids.claim("report.txt")
    assert third == f"report-{short_hash('report.txt')}"
    assert len({"report", third, fourth}) == 3


def test_json_ids_read_earlier_are_taken(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "report", "text": "From JSON."}) + "\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "report.txt").write_text("Report\nFrom a text file.")
    ids = [item.id for item in read_paths([tmp_path])]
    assert ids == ["report", f"report-{short_hash('b/report.txt')}"]


# --- ingesting, as a user does -------------------------------------------------------------

FOLDER = {
    "Sky (United Kingdom).txt": "Sky News\nSky News reported on the storm over London.",
    "Fresno, California.txt": "Fresno heat\nFresno, California, recorded 44 degrees.",
    "Fresno California.txt": "Fresno water\nFresno California approved a water plan.",
    "Zürich – Straßenbahn.md": "---\ntitle: Tram strike\nsection: local\n---\nZürich trams stopped for a day.",
    "東京ニュース.txt": "Tokyo news\nTokyo opened a new railway line.",
    "wikinews-2015-mecca-crane-collapse.txt": "Crane collapse\nA crane fell in Mecca.",
    "a/report.txt": "Report A\nThe first annual report was published.",
    "b/report.txt": "Report B\nThe second annual report was published.",
    "()).txt": "Brackets\nA file named only with brackets.",
    "River flood (photos).html": """<!doctype html><html><head><title>River flood</title></head>
<body><article><h1>River flood</h1>
<p>Heavy rain caused the river Aire to burst its banks on Monday, flooding two hundred homes.</p>
<p>Emergency services evacuated residents from the lowest streets overnight, and the council
opened three rest centres.</p>
<p>Forecasters expect the water level to fall slowly over the coming week as the rain eases.</p>
</article></body></html>""",
}


def expected_ids() -> dict[str, str]:
    """Each file's id, worked out from the rule by hand."""

    def cleaned(base: str, stem: str) -> str:
        return f"{base}-{short_hash(stem)}"

    return {
        "Sky (United Kingdom).txt": cleaned("Sky-United-Kingdom", "Sky (United Kingdom)"),
        "Fresno, California.txt": cleaned("Fresno-California", "Fresno, California"),
        "Fresno California.txt": cleaned("Fresno-California", "Fresno California"),
        "Zürich – Straßenbahn.md": cleaned("Zürich-Straßenbahn", "Zürich – Straßenbahn"),
        "東京ニュース.txt": "東京ニュース",
        "wikinews-2015-mecca-crane-collapse.txt": "wikinews-2015-mecca-crane-collapse",
        "a/report.txt": "report",
        "b/report.txt": f"report-{short_hash('b/report.txt')}",
        "()).txt": cleaned("file", "())"),
        "River flood (photos).html": cleaned("River-flood-photos", "River flood (photos)"),
    }


@pytest.mark.slow  # each command loads the model afresh
def test_a_folder_of_ordinary_file_names_is_ingested_once(tmp_path: Path) -> None:
    folder, data = tmp_path / "articles", tmp_path / "data"
    for name, text in FOLDER.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")

    first = run_newsdesk(data, "ingest", str(folder), "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    report = json.loads(first.stdout)
    assert report["rejected"] == []
    assert sorted(report["added"]) == sorted(expected_ids().values())

    again = run_newsdesk(data, "ingest", str(folder), "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    report = json.loads(again.stdout)
    assert sorted(report["unchanged"]) == sorted(expected_ids().values())
    assert report["added"] == report["updated"] == report["rejected"] == []

    listed = run_newsdesk(data, "articles", "list", "--json")
    metadata = {item["id"]: item["metadata"] for item in json.loads(listed.stdout)["items"]}
    for path, article_id in expected_ids().items():
        assert metadata[article_id]["file_name"] == Path(path).name
    assert metadata[expected_ids()["Zürich – Straßenbahn.md"]]["section"] == "local"


def test_uploads_with_the_same_name_get_ids_of_their_own(client: TestClient) -> None:
    files = [
        ("files", ("report.txt", b"Report one\nThe first report.", "text/plain")),
        ("files", ("report.txt", b"Report two\nThe second report.", "text/plain")),
        ("files", ("Sky (United Kingdom).txt", b"Sky\nStorm over London.", "text/plain")),
    ]
    second_report = f"report-{short_hash('report.txt')}"
    sky = f"Sky-United-Kingdom-{short_hash('Sky (United Kingdom)')}"

    report = client.post("/articles/upload", files=files).json()
    assert report["added"] == ["report", second_report, sky] and report["rejected"] == []
    again = client.post("/articles/upload", files=files).json()
    assert again["unchanged"] == ["report", second_report, sky]

    assert client.get(f"/articles/{second_report}").json()["title"] == "Report two"
    assert client.get(f"/articles/{sky}").json()["metadata"] == {
        "file_name": "Sky (United Kingdom).txt"
    }
