"""The vector stores store-facing tests run against: faiss in process, and Milvus through
milvus-lite (a `.db` directory in the test's data directory). Skipped, saying why, only
where the `milvus` extra is not installed (`make setup` installs it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from newsdesk.settings import Settings

MILVUS_MISSING = importlib.util.find_spec("pymilvus") is None or (
    importlib.util.find_spec("milvus_lite") is None
)
needs_milvus = pytest.mark.skipif(
    MILVUS_MISSING, reason="pymilvus and milvus-lite are not installed (the `milvus` extra)"
)
VECTOR_STORES = ["faiss", pytest.param("milvus", marks=needs_milvus)]


def store_settings(data_dir: Path, vector_store: str, **overrides: Any) -> Settings:
    """Test settings (extractive backend) on this vector store."""
    options: dict[str, Any] = {"backend": "extractive", **overrides}
    return Settings(data_dir=data_dir, vector_store=vector_store, _env_file=None, **options)
