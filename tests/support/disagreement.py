"""Reports that disagree, for the disagreement tests (API and page): a second outlet's report
of the sample crane story, and pairs of reports conflicting on one fact of each kind."""

from __future__ import annotations

from dataclasses import dataclass

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput

from .stored import stored_article

MECCA = "wikinews-2015-mecca-crane-collapse"
QUESTION = "How many people were killed when the crane fell into Mecca's Grand Mosque?"


def second_outlet(desk: Newsdesk, toll: str) -> ArticleInput:
    """The sample crane story as another outlet reported it: its lead sentence reworded
    with `toll` dead, then sentences of its own (so it is not a copy of the sample)."""
    sample = stored_article(desk.store, MECCA)
    lead = sample.text.split("\n")[0]
    assert "killing 107 or more" in lead  # the sample's own toll, which the test relies on
    reworded = lead.replace("A storm yesterday caused", "On Friday a storm caused").replace(
        "killing 107 or more", f"killing {toll} people"
    )
    return ArticleInput(
        id=f"second-outlet-{toll}",
        title="Crane falls into Grand Mosque during storm",
        source="Second Outlet",
        published_at="2015-09-12",
        text=(
            f"{reworded}\n\nRescue teams worked through the night at the site. The company "
            "building the extension said it was cooperating with the investigation. "
            "Pilgrims continued to arrive in the city for the Hajj."
        ),
    )


@dataclass(frozen=True)
class ConflictingReports:
    """Two outlets' reports of one story whose leads conflict on one fact of `kind`, or
    agree (`kind` None), and the question whose answer is in the lead."""

    kind: str | None
    question: str
    first: ArticleInput
    second: ArticleInput


def _report(story: str, outlet: str, lead: str, rest: str) -> ArticleInput:
    return ArticleInput(
        id=f"{story}-{outlet.lower().replace(' ', '-')}",
        title=lead.split(",")[0][:80],
        source=outlet,
        published_at="2024-03-14",
        text=f"{lead}\n\n{rest}",
    )


# Each story's second report words its other sentences its own way, so the two are not
# near-duplicates (a copy would be collapsed into its original at retrieval).
_FIRST_REST = (
    "Emergency services were called to the scene shortly after midday. Local officials "
    "promised a full inquiry and said the findings would be published within a month."
)
_SECOND_REST = (
    "Residents described hearing a loud noise before the alarm was raised. An investigation "
    "has been opened, and regional authorities expect a report by the end of next month."
)
_STORIES: list[tuple[str | None, str, str, str]] = [
    (
        "number",
        "How many passengers were killed when the bus plunged into the ravine in Peru?",
        "A bus plunged into a ravine in the Andes of northern Peru on Sunday, killing 24 "
        "passengers.",
        "A bus plunged into a ravine in the Andes of northern Peru on Sunday, killing 31 "
        "passengers.",
    ),
    (
        "date",
        "When was the fugitive banker Viktor Brandt arrested in Montenegro?",
        "The fugitive banker Viktor Brandt was arrested in Montenegro on Tuesday, police said.",
        "The fugitive banker Viktor Brandt was arrested in Montenegro on Thursday, police said.",
    ),
    (
        "name",
        "Who was the captain of the trawler that sank in the North Sea?",
        "The captain of the trawler that sank in the North Sea, Tomas Eriksen, was rescued by "
        "a helicopter crew.",
        "The captain of the trawler that sank in the North Sea, Henrik Dahl, was rescued by "
        "a helicopter crew.",
    ),
    (
        "attribution",
        "Who said the Alqueva dam is safe and there is no need to evacuate?",
        '"The Alqueva dam is safe and there is no need to evacuate," said Water Minister '
        "Paulo Mendes.",
        '"The Alqueva dam is safe and there is no need to evacuate," said Governor Rita Alves.',
    ),
    (
        "outcome",
        "What did the court in Naples decide about the former police chief Dario Russo?",
        "The court in Naples acquitted the former police chief Dario Russo of abuse of office "
        "on Wednesday.",
        "The court in Naples convicted the former police chief Dario Russo of abuse of office "
        "on Wednesday.",
    ),
    (
        None,
        "Who was rescued after the trawler sank in the North Sea?",
        "The captain of the trawler that sank in the North Sea, Tomas Eriksen, was rescued by "
        "a helicopter crew.",
        "Captain Eriksen was rescued by a helicopter crew on Monday after his trawler sank in "
        "the North Sea, the coast guard said.",
    ),
]
CONFLICTS = [
    ConflictingReports(
        kind,
        question,
        _report(kind or "agreeing", "First Outlet", first, _FIRST_REST),
        _report(kind or "agreeing", "Second Outlet", second, _SECOND_REST),
    )
    for kind, question, first, second in _STORIES
]
