"""A second outlet's report of the sample crane story, for the disagreement tests (API and
page)."""

from __future__ import annotations

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput

MECCA = "wikinews-2015-mecca-crane-collapse"
QUESTION = "How many people were killed when the crane fell into Mecca's Grand Mosque?"


def second_outlet(desk: Newsdesk, toll: str) -> ArticleInput:
    """The sample crane story as another outlet reported it: its lead sentence reworded
    with `toll` dead, then sentences of its own (so it is not a copy of the sample)."""
    lead = desk.store.get_article(MECCA).text.split("\n")[0]
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
