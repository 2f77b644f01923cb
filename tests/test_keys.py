"""`newsdesk keys create/list/revoke` beside a running `newsdesk serve` on the same data
directory (real processes): the key is printed once, alone on the last line; only its SHA-256
is stored; the server accepts a new key and refuses a revoked one at once, without a restart;
the articles' generation counter is left alone. Also /keys over HTTP, and settings keys that
are too short stop the service at start with a message."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .support.cli import NEWSDESK, newsdesk_serve, run_newsdesk
from .support.patience import PATIENCE_S

pytestmark = pytest.mark.slow  # `newsdesk serve` loads the model

SETTINGS_KEY = "settings-admin-key-0123456789abcdefghij"


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env.update(NEWSDESK_DATA_DIR=str(data_dir), NEWSDESK_BACKEND="extractive", **extra)
    return env


@dataclass(frozen=True)
class Served:
    url: str
    data_dir: Path
    env: dict[str, str]

    def keys(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        if stdin is None:
            return run_newsdesk(self.data_dir, "keys", *args, env=self.env)
        return subprocess.run(
            [NEWSDESK, "keys", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=PATIENCE_S * 5,
            check=False,
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`newsdesk serve` on a data directory with one admin key from the settings."""
    root = tmp_path_factory.mktemp("keys")
    env = _env(root / "data", NEWSDESK_API_KEYS=SETTINGS_KEY)
    with newsdesk_serve(NEWSDESK, env=env, cwd=root, log=root / "serve.log") as server:
        yield Served(server.url, root / "data", env)


def _get(url: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(url, headers=headers, timeout=PATIENCE_S)


def _generation(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "newsdesk.sqlite3") as db:
        return str(db.execute("SELECT value FROM state WHERE key = 'generation'").fetchone()[0])


def test_create_prints_the_key_alone_on_the_last_line_and_the_server_takes_it(
    served: Served,
) -> None:
    generation = _generation(served.data_dir)
    created = served.keys("create", "--role", "read", "--name", "reader-1")
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[-1]
    assert created.stdout == key + "\n"  # alone: `newsdesk keys create … | tail -1`
    assert key.startswith("nd_") and len(key) >= 32
    assert "reader-1" in created.stderr and key not in created.stderr

    # The running server accepts it at once, with its role.
    me = _get(f"{served.url}/whoami", key)
    assert me.status_code == 200 and me.json() == {
        "name": "reader-1",
        "role": "read",
        "authenticated": True,
    }
    assert _get(f"{served.url}/articles", key).status_code == 200
    ingest = httpx.post(
        f"{served.url}/articles",
        json={"id": "x", "title": "x", "text": "Some text."},
        headers={"Authorization": f"Bearer {key}"},
        timeout=PATIENCE_S,
    )
    assert ingest.status_code == 403
    # Only the hash is stored; the articles' generation did not move.
    database = (served.data_dir / "newsdesk.sqlite3").read_bytes()
    wal = served.data_dir / "newsdesk.sqlite3-wal"
    stored = database + (wal.read_bytes() if wal.exists() else b"")
    assert key.encode() not in stored
    assert hashlib.sha256(key.encode()).digest() in stored
    assert _generation(served.data_dir) == generation


def test_list_shows_names_and_roles_never_keys(served: Served) -> None:
    created = served.keys("create", "--role", "admin")
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[-1]
    name = created.stderr.split("'")[1]  # a generated name
    assert name.startswith("admin-")
    listed = served.keys("list")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith(name + " "))
    assert " admin " in line and "active" in line
    assert key not in listed.stdout + listed.stderr
    assert hashlib.sha256(key.encode()).hexdigest() not in listed.stdout
    assert "1 admin keys from NEWSDESK_API_KEYS" in listed.stderr
    assert _get(f"{served.url}/whoami", key).json()["role"] == "admin"


def test_revoke_takes_effect_at_once(served: Served) -> None:
    key = served.keys("create", "--role", "read", "--name", "to-revoke").stdout.splitlines()[-1]
    assert _get(f"{served.url}/articles", key).status_code == 200
    revoked = served.keys("revoke", "to-revoke")
    assert revoked.returncode == 0, revoked.stderr
    refused = _get(f"{served.url}/articles", key)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    line = next(line for line in served.keys("list").stdout.splitlines() if "to-revoke" in line)
    assert "revoked" in line
    # Settings keys keep working beside stored ones.
    assert _get(f"{served.url}/whoami", SETTINGS_KEY).json()["role"] == "admin"


def test_mistakes_are_messages_and_a_non_zero_exit(served: Served) -> None:
    unknown = served.keys("revoke", "no-such-key")
    assert unknown.returncode != 0 and "no key named 'no-such-key'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    assert served.keys("create", "--role", "read", "--name", "twice").returncode == 0
    again = served.keys("create", "--role", "read", "--name", "twice")
    assert again.returncode != 0 and "already a key named 'twice'" in again.stderr
    assert again.stdout == ""
    short = served.keys("create", "--role", "read", "--from-stdin", stdin="s" * 31 + "\n")
    assert short.returncode != 0 and "at least 32 characters" in short.stderr
    given = "given-key-" + "g" * 30
    taken = served.keys("create", "--role", "read", "--name", "given", "--from-stdin", stdin=given)
    assert taken.returncode == 0 and taken.stdout.splitlines()[-1] == given
    assert _get(f"{served.url}/whoami", given).json()["name"] == "given"
    bad_role = served.keys("create", "--role", "owner")
    assert bad_role.returncode != 0


def test_admins_manage_keys_over_http(served: Served) -> None:
    admin = {"Authorization": f"Bearer {SETTINGS_KEY}"}
    created = httpx.post(
        f"{served.url}/keys",
        json={"role": "read", "name": "http-reader"},
        headers=admin,
        timeout=PATIENCE_S,
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert created.json()["role"] == "read" and _get(f"{served.url}/whoami", key).status_code == 200
    listed = httpx.get(f"{served.url}/keys", headers=admin, timeout=PATIENCE_S)
    assert listed.status_code == 200 and key not in listed.text
    assert {"name", "role", "created_at", "revoked_at"} == set(listed.json()[0])
    duplicate = httpx.post(
        f"{served.url}/keys",
        json={"role": "read", "name": "http-reader"},
        headers=admin,
        timeout=PATIENCE_S,
    )
    assert duplicate.status_code == 409
    assert (
        httpx.delete(
            f"{served.url}/keys/http-reader", headers=admin, timeout=PATIENCE_S
        ).status_code
        == 204
    )
    assert _get(f"{served.url}/whoami", key).status_code == 401
    missing = httpx.delete(f"{served.url}/keys/nobody", headers=admin, timeout=PATIENCE_S)
    assert missing.status_code == 404


def test_keys_on_a_fresh_data_directory_turn_authentication_on(tmp_path: Path) -> None:
    """No settings keys: the service is open until the first key is created, and stays
    closed once there has been one (revoking the last key does not open it)."""
    env = _env(tmp_path / "data")
    created = run_newsdesk(
        tmp_path / "data", "keys", "create", "--role", "admin", "--name", "a", env=env
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[-1]
    with newsdesk_serve(NEWSDESK, env=env, cwd=tmp_path, log=tmp_path / "serve.log") as server:
        assert _get(f"{server.url}/articles", None).status_code == 401
        assert _get(f"{server.url}/articles", key).status_code == 200
        assert run_newsdesk(tmp_path / "data", "keys", "revoke", "a", env=env).returncode == 0
        assert _get(f"{server.url}/articles", None).status_code == 401
        assert _get(f"{server.url}/articles", key).status_code == 401


def test_short_settings_keys_stop_serve_with_a_message(tmp_path: Path) -> None:
    env = _env(tmp_path / "data", NEWSDESK_API_KEYS="short-key")
    result = run_newsdesk(tmp_path / "data", "serve", env=env)
    assert result.returncode == 1
    assert "at least 32 characters" in result.stderr
    assert "Traceback" not in result.stderr and "short-key" not in result.stderr
