"""Shared fixtures: one real embedding model for the whole session, a fresh data directory
for every test (so tests never see each other's articles)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk, build_embedder
from newsdesk.domain import ArticleInput
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return build_embedder(Settings())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", backend="extractive", _env_file=None)


@pytest.fixture
def desk(settings: Settings, embedder: Embedder) -> Iterator[Newsdesk]:
    with Newsdesk.open(settings, embedder=embedder) as opened:
        yield opened


@pytest.fixture
def client(desk: Newsdesk) -> Iterator[TestClient]:
    with TestClient(create_app(desk.settings, desk=desk)) as test_client:
        yield test_client


def load_samples() -> list[ArticleInput]:
    lines = (SAMPLES / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    return [ArticleInput.model_validate(json.loads(line)) for line in lines if line.strip()]


@pytest.fixture
def samples() -> list[ArticleInput]:
    return load_samples()


@pytest.fixture
def loaded_desk(desk: Newsdesk, samples: list[ArticleInput]) -> Newsdesk:
    desk.ingestor.ingest(samples)
    return desk
