"""An article read back from the store, where a test needs it to be there."""

from __future__ import annotations

from newsdesk.domain import Article
from newsdesk.stores.sqlite import ArticleStore


def stored_article(store: ArticleStore, article_id: str) -> Article:
    """The stored article; the test fails, naming it, where the store has none."""
    article = store.get_article(article_id)
    assert article is not None, f"article {article_id!r} is not in the store"
    return article
