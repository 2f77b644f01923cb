"""The container builds the parts both pipelines share and hands the same ones to each."""

from __future__ import annotations

from pathlib import Path

from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder

from .misbehaving_server import misbehaving_server, provider_settings


def test_answers_and_summaries_share_one_model_checker_and_embedder_cache(
    tmp_path: Path, embedder: Embedder
) -> None:
    with misbehaving_server("ok") as (provider_url, requests):
        settings = provider_settings(tmp_path / "data", provider_url)
        with Newsdesk.open(settings, embedder=embedder) as desk:
            summarizer = desk.summarizer()  # needs no answer pipeline first
            answerer = desk.answerer()
            chat_model = desk.chat_model()
            assert chat_model is not None
            assert answerer.chat_model is summarizer.chat_model is chat_model
            assert answerer.checker is summarizer.checker is desk.checker
            assert answerer.embedder is summarizer.embedder is desk.caching_embedder
            assert desk.checker.threshold == settings.support_threshold
    assert requests.value == 0  # building the parts calls no model
