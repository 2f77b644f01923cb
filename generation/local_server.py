"""The embedded default backend: a llama.cpp server (``python -m llama_cpp.server``) run as a
child process on loopback, serving a GGUF model: the packaged one ``local_model`` names (see
:mod:`local_models`: joined into the data directory once and verified), or a configured file.

It runs in a separate process rather than in-process so that a crash in native code (or a
model that never loads) costs an answer, not the service; the service talks to it through the
same OpenAI client as to any other endpoint.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import httpx

from newsdesk.generation import local_models
from newsdesk.generation.llm import Completion, LLMError, LLMUnavailable, OpenAIChatModel
from newsdesk.settings import Settings

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
LOG_NAME = "llama-server.log"
_POLL_SECONDS = 0.1
_STOP_GRACE_SECONDS = 10.0
_LOG_TAIL_BYTES = 4000
_PORT_ATTEMPTS = 3
# How often the supervisor looks at the child: a restart begins at most this late.
_WATCH_SECONDS = 0.2
_LAUNCHER = "newsdesk.generation.llm_child"
_Phase = Literal["stopped", "starting", "ready", "restarting", "unavailable"]
PLAIN_TEMPLATE_NAME = "plain-chat-template.json"
# Message texts joined by blank lines (empty ones, like the generation prompt's, skipped).
_PLAIN_TEMPLATE = "{{ bos_token }}{{ messages | map(attribute='content') | select | join('\n\n') }}"


class LocalLlamaServer:
    """Start, supervise, reach and stop one llama.cpp server child process.

    One supervisor thread does every spawn and every kill: it starts the child, waits until it
    answers, and when it exits unexpectedly restarts it after a backoff that doubles with each
    restart inside ``llm_restart_window_seconds`` (up to ``llm_restart_max_seconds``); after
    ``llm_restart_limit`` restarts in that window it gives up and the server stays
    ``unavailable``. Spawning from that long-lived thread is what makes the child's
    parent-death signal mean "the service died" (see :mod:`llm_child`).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._port: int | None = None
        # Write end of the pipe the child watches for EOF: open while the child should live.
        self._lifeline: int | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._phase: _Phase = "stopped"
        self._reason = ""
        self._restarts: deque[float] = deque()
        self._next_start_at: float | None = None
        self._alias = ""
        self._clients: dict[tuple[int, int | None], OpenAIChatModel] = {}

    # --- model --------------------------------------------------------------------------

    def model_file(self) -> Path:
        """The GGUF file to serve: the configured one, or the packaged one of `local_model`,
        joined from its part packages once and verified (see :mod:`local_models`)."""
        configured = self._settings.local_model_path
        if configured is not None:
            if not configured.is_file():
                raise LLMError(f"local model file {configured} does not exist")
            return configured
        return local_models.model_file(
            local_models.selected(self._settings), self._settings.data_dir / "models"
        )

    # --- process ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise LLMError("the local llama server has not been started")
        return f"http://{HOST}:{self._port}/v1"

    @property
    def log_path(self) -> Path:
        return self._settings.data_dir / "logs" / LOG_NAME

    @property
    def running(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (tests kill it to see it come back)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def state(self) -> str:
        """`ready`, `starting`, `restarting: <attempt, wait, why>`, `unavailable: <why>` or
        `stopped`: the words before a colon are what /ready shows."""
        with self._lock:
            phase, reason = self._phase, self._reason
            if phase == "restarting":
                attempt = len(self._restarts)
                if self._next_start_at is None:
                    when = "starting now"
                else:
                    when = f"next in {max(self._next_start_at - time.monotonic(), 0):.1f}s"
                return f"restarting: attempt {attempt}, {when} ({reason})"
        return f"unavailable: {reason}" if phase == "unavailable" else phase

    def start(self) -> None:
        """Start the server under supervision and wait until it answers; raise LLMError if it
        does not (a first start is not retried: a model that cannot load will not load on a
        second try either)."""
        if self._supervisor is not None and self._supervisor.is_alive():
            return
        model = self.model_file()
        self._alias = _alias(model)
        self._stopping.clear()
        started = threading.Event()
        failure: list[LLMError] = []
        with self._lock:
            self._phase, self._reason = "starting", ""
            self._restarts.clear()
        self._supervisor = threading.Thread(
            target=self._supervise,
            args=(model, started, failure),
            name="llama-server-supervisor",
            daemon=True,
        )
        self._supervisor.start()
        started.wait()
        if failure:
            self._supervisor.join()
            raise failure[0]

    def chat_model(self) -> LocalChatModel:
        return LocalChatModel(self, self._alias or _alias(self.model_file()))

    def client_for_current_port(self, *, max_retries: int | None = None) -> OpenAIChatModel:
        """A client for the child now serving; LLMUnavailable at once while there is none."""
        with self._lock:
            phase, port = self._phase, self._port
        if phase != "ready" or port is None:
            raise LLMUnavailable(f"local LLM server is not ready ({self.state()})")
        return self._client(port, max_retries)

    def stop(self) -> None:
        """Stop supervising and end the child (kill it if it ignores SIGTERM); safe to call
        more than once."""
        self._stopping.set()
        supervisor = self._supervisor
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join()
        self._end_child()
        with self._lock:
            if self._phase != "unavailable":
                self._phase = "stopped"

    def __enter__(self) -> LocalLlamaServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- supervision (runs on the supervisor thread) ------------------------------------

    def _supervise(self, model: Path, started: threading.Event, failure: list[LLMError]) -> None:
        try:
            self._start_child(model)
        except LLMError as exc:
            failure.append(exc)
            self._set_phase("stopped" if self._stopping.is_set() else "unavailable", str(exc))
            started.set()
            return
        self._set_phase("ready")
        started.set()
        try:
            while (code := self._wait_for_exit()) is not None:
                reason = f"the local LLM server exited with code {code}"
                log.error("%s; end of %s:\n%s", reason, self.log_path, self._log_tail())
                if not self._restart(model, reason):
                    return
        finally:
            self._end_child()

    def _wait_for_exit(self) -> int | None:
        """The child's exit code once it exits, or None when asked to stop."""
        while not self._stopping.wait(_WATCH_SECONDS):
            process = self._process
            code = process.poll() if process is not None else -1
            if code is not None:
                return code
        return None

    def _restart(self, model: Path, reason: str) -> bool:
        """Restart after a backoff until a child answers (True), or give up (False)."""
        while True:
            delay = self._schedule_restart(reason)
            if delay is None:
                log.error("local LLM server: %s", self._reason)
                return False
            log.warning("restarting the local LLM server in %.1fs (%s)", delay, reason)
            if self._stopping.wait(delay):
                return False
            with self._lock:
                self._next_start_at = None
            try:
                self._start_child(model)
            except LLMError as exc:
                if self._stopping.is_set():
                    return False
                reason = str(exc).split("\n", 1)[0]
                continue
            log.info("local LLM server restarted on port %s", self._port)
            self._set_phase("ready")
            return True

    def _schedule_restart(self, reason: str) -> float | None:
        settings = self._settings
        now = time.monotonic()
        with self._lock:
            while self._restarts and self._restarts[0] < now - settings.llm_restart_window_seconds:
                self._restarts.popleft()
            if len(self._restarts) >= settings.llm_restart_limit:
                self._phase = "unavailable"
                self._reason = (
                    f"{reason}; gave up after {len(self._restarts)} restart(s) within "
                    f"{settings.llm_restart_window_seconds:g}s"
                )
                return None
            delay = min(
                settings.llm_restart_initial_seconds * 2 ** len(self._restarts),
                settings.llm_restart_max_seconds,
            )
            self._restarts.append(now)
            self._phase, self._reason = "restarting", reason
            self._next_start_at = now + delay
            return delay

    def _set_phase(self, phase: _Phase, reason: str = "") -> None:
        with self._lock:
            self._phase, self._reason = phase, reason

    # --- the child ----------------------------------------------------------------------

    def _start_child(self, model: Path) -> None:
        fixed_port = self._settings.local_server_port
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self._spawn(model, fixed_port or _free_port())
            try:
                self._wait_until_ready()
                return
            except LLMError as exc:
                # A port picked by us can be taken before the child binds it: pick again.
                if fixed_port or attempt == _PORT_ATTEMPTS or not _port_taken(exc):
                    raise

    def _spawn(self, model: Path, port: int) -> None:
        self._end_child()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        command = self._command(model, port)
        log.info("starting local llama server: %s", " ".join(command))
        watch, self._lifeline = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", _LAUNCHER, str(os.getpid()), str(watch), "--", *command],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=_child_environment(),
                pass_fds=(watch,),
                # Its own session and process group: a terminal's Ctrl-C goes to the service
                # alone (which then stops the child), and a stop can end the whole group.
                start_new_session=True,
            )
        finally:
            os.close(watch)
        with self._lock:
            self._process, self._port = process, port

    def _end_child(self) -> None:
        with self._lock:
            process, self._process = self._process, None
            lifeline, self._lifeline = self._lifeline, None
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        if lifeline is not None:
            os.close(lifeline)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _client(self, port: int, max_retries: int | None) -> OpenAIChatModel:
        # One client per port and retry policy, kept: its connection pool is reused.
        key = (port, max_retries)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                self._clients = {k: c for k, c in self._clients.items() if k[0] == port}
                client = self._clients[key] = OpenAIChatModel(
                    base_url=f"http://{HOST}:{port}/v1",
                    api_key=None,
                    model=self._alias,
                    timeout=self._settings.llm_timeout_seconds,
                    max_retries=(
                        self._settings.llm_max_retries if max_retries is None else max_retries
                    ),
                    # On 2 cores a long answer takes minutes but keeps making progress: bound
                    # the wait for each token, not the whole answer.
                    stream_completions=True,
                )
            return client

    def _command(self, model: Path, port: int) -> list[str]:
        threads = str(_cpu_count())
        command = [
            "--model", str(model),
            "--host", HOST,
            "--port", str(port),
            "--model_alias", _alias(model),
            "--n_ctx", str(self._settings.local_context_tokens),
            # The server's default is half the CPUs; it is the only heavy work we run.
            "--n_threads", threads,
            "--n_threads_batch", threads,
            # Its default cuts a running stream short whenever another request arrives;
            # queue concurrent requests instead.
            "--interrupt_requests", "false",
        ]  # fmt: skip
        packaged = local_models.selected(self._settings)
        # A configured file keeps the chat template it carries (llama.cpp applies it).
        if self._settings.local_model_path is None and packaged.chat_template == "plain":
            template = _write_plain_template(model.parent)
            command += [
                "--chat_format", "hf-tokenizer-config",
                "--hf_tokenizer_config_path", str(template),
            ]  # fmt: skip
        return command + _amx_workaround()

    def _wait_until_ready(self) -> None:
        process = self._process
        assert process is not None
        deadline = time.monotonic() + self._settings.local_startup_seconds
        while not self._answers():
            code = process.poll()
            if code is not None:
                self._end_child()
                raise LLMError(
                    f"local llama server exited with code {code} while starting; "
                    f"end of {self.log_path}:\n{self._log_tail()}"
                )
            if self._stopping.is_set():
                self._end_child()
                raise LLMError("the local llama server was stopped while starting")
            if time.monotonic() > deadline:
                self._end_child()
                raise LLMError(
                    f"local llama server did not answer within "
                    f"{self._settings.local_startup_seconds:g}s; "
                    f"end of {self.log_path}:\n{self._log_tail()}"
                )
            time.sleep(_POLL_SECONDS)

    def _answers(self) -> bool:
        # trust_env=False: a proxy configured in the environment must not see loopback calls.
        try:
            response = httpx.get(f"{self.base_url}/models", timeout=1.0, trust_env=False)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as file:
                file.seek(0, os.SEEK_END)
                file.seek(max(0, file.tell() - _LOG_TAIL_BYTES))
                return file.read().decode("utf-8", errors="replace").strip()
        except OSError as exc:
            return f"(log unreadable: {exc})"


class LocalChatModel:
    """The chat model of a supervised local server: each call goes to the child serving now
    (a restart may move it to another port) and fails at once, without a request, while the
    child is down — answers then fall back to extractive, marked `degraded`."""

    def __init__(
        self, server: LocalLlamaServer, name: str, *, max_retries: int | None = None
    ) -> None:
        self.name = name
        self._server = server
        self._max_retries = max_retries

    def single_attempt(self) -> LocalChatModel:
        """Without the client's retries (a circuit breaker's trial call)."""
        return LocalChatModel(self._server, self.name, max_retries=0)

    def complete(self, messages: list[dict[str, str]], **options: Any) -> Completion:
        client = self._server.client_for_current_port(max_retries=self._max_retries)
        return client.complete(messages, **options)

    def stream(self, messages: list[dict[str, str]], **options: Any) -> Iterator[str]:
        client = self._server.client_for_current_port(max_retries=self._max_retries)
        yield from client.stream(messages, **options)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)  # the child leads its own group (start_new_session)


def _write_plain_template(directory: Path) -> Path:
    """A chat template that passes the messages through as plain text.

    The packaged Gemma 3 270M is a *base* model and its GGUF carries no chat template, so
    llama-cpp-python would wrap prompts in Llama-2's ``[INST]`` markers; Gemma's own turn
    markers fare no better. Either way the model answers one-shot prompts ("Question: …
    Answer:") with noise, while the same text as a plain continuation gets sensible answers.
    So the chat API here means: BOS, then the message texts, and the model continues.
    """
    path = directory / PLAIN_TEMPLATE_NAME
    config = {"chat_template": _PLAIN_TEMPLATE, "bos_token": "<bos>", "eos_token": "<eos>"}
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def _alias(model: Path) -> str:
    return model.name.removesuffix(".gguf")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _port_taken(exc: LLMError) -> bool:
    return "address already in use" in str(exc).lower()


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@functools.cache
def _llama_server_setting_names() -> frozenset[str]:
    from llama_cpp.server.settings import Settings as ServerSettings

    return frozenset(ServerSettings.model_fields) | {"config_file"}


def _child_environment() -> dict[str, str]:
    """Our environment minus variables the llama server would read as its own settings.

    Its settings are pydantic BaseSettings without a prefix, and it binds to ``$HOST``/``$PORT``
    over its command line: a stray HOST=0.0.0.0, API_KEY or CONFIG_FILE in the service's
    environment would expose it, lock us out or replace our configuration.
    """
    names = _llama_server_setting_names()
    return {key: value for key, value in os.environ.items() if key.lower() not in names}


@functools.cache
def _amx_workaround() -> list[str]:
    """Extra server arguments that keep llama.cpp off its AMX matrix kernels.

    When llama-cpp-python is built with AMX (``-march=native`` on a Sapphire Rapids class
    host), ggml uses AMX tiles for batches of more than one token. In the build found here
    (llama-cpp-python 0.3.36, GCC 12) the compiled ``ggml_tile_config_init`` loads a tile
    configuration whose row/column stores are missing, ``ldtilecfg`` faults, and the server
    dies with SIGSEGV on the first multi-token prompt. One-token micro-batches take the
    AVX512-VNNI path instead: correct, but prompt processing is much slower. The Makefile
    builds llama-cpp-python without AMX, which needs none of this; the check stays as a
    safety net for a plain ``pip install .`` on such a host.
    """
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    if "AMX_INT8 = 1" not in info:
        return []
    log.warning(
        "llama.cpp was built with AMX kernels, which crash on this toolchain; "
        "using one-token micro-batches (slow prompt processing); rebuild llama-cpp-python "
        "without AMX to lift this"
    )
    return ["--n_ubatch", "1"]
