"""The `newsdesk` command as a real process, for tests of the command itself (its output and
exit status, an installed wheel, `--host`, one process per data directory): the one way tests
run it and start `newsdesk serve`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .patience import PATIENCE_S

# Start-up loads the embedding model and opens the collection: minutes on a busy machine.
STARTUP_PATIENCE_S = PATIENCE_S * 3
# The console script installed beside this interpreter (or found on PATH).
_BESIDE_PYTHON = Path(sys.executable).parent / "newsdesk"
NEWSDESK = str(_BESIDE_PYTHON) if _BESIDE_PYTHON.exists() else (shutil.which("newsdesk") or "")


def run_newsdesk(
    data_dir: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`newsdesk ARGS` on `data_dir` (the environment's other settings kept unless `env` is
    given), its output captured."""
    assert NEWSDESK, "the newsdesk console script is not installed"
    command_env = {**(os.environ if env is None else env), "NEWSDESK_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [NEWSDESK, *args],
        capture_output=True,
        text=True,
        env=command_env,
        timeout=PATIENCE_S * 5,
        check=False,
    )


@dataclass(frozen=True)
class ServedProcess:
    process: subprocess.Popen[bytes]
    url: str


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextmanager
def newsdesk_serve(
    newsdesk: str | Path,
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    host: str = "127.0.0.1",
) -> Iterator[ServedProcess]:
    """Run `newsdesk serve` on a free port of `host`; yield once `/health` answers 200; stop it
    on exit (terminate, then kill). The server's output goes to `log`, shown on failure."""
    port = free_port(host)
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(newsdesk), "serve", "--host", host, "--port", str(port)],
            cwd=cwd,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://{host}:{port}"
        _wait_for_health(process, url, log)
        yield ServedProcess(process, url)
    finally:
        _stop(process)


def _wait_for_health(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_PATIENCE_S
    while True:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=PATIENCE_S).status_code == 200:
                return
        except httpx.TransportError:  # refused, reset or timed out: not up yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no /health in time:\n{log.read_text()}")
        time.sleep(0.5)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=PATIENCE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
