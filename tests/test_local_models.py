"""The local model registry: joining a model's parts into one verified file (real files; small
synthetic parts for the refusals), the setting that selects a model, and what each model's
kind means for the server's chat template and the prompts."""

from __future__ import annotations

import hashlib
import os
import re
from importlib import metadata
from pathlib import Path
from typing import get_args

import pytest

from newsdesk.generation import local_models
from newsdesk.generation.llm import LLMError
from newsdesk.generation.local_models import MODELS, LocalModel, Part, join_parts, model_file
from newsdesk.generation.local_server import PLAIN_TEMPLATE_NAME, LocalLlamaServer
from newsdesk.generation.prompting import answer_messages, answer_prompt, summary_messages
from newsdesk.settings import LocalModelName, Settings
from tests.support.passages import passage
from tests.support.patience import LLM_PATIENCE_S


def _parts(directory: Path, pieces: list[bytes]) -> list[Path]:
    paths = []
    for number, piece in enumerate(pieces, start=1):
        path = directory / f"part{number:02d}.bin"
        path.write_bytes(piece)
        paths.append(path)
    return paths


PIECES = [os.urandom(3000), os.urandom(5000), os.urandom(1234)]
WHOLE = b"".join(PIECES)
SHA = hashlib.sha256(WHOLE).hexdigest()


def test_parts_are_joined_in_order(tmp_path: Path) -> None:
    parts = _parts(tmp_path, PIECES)
    target = tmp_path / "models" / "joined.gguf"
    join_parts(parts, target, size=len(WHOLE), sha256=SHA)
    assert target.read_bytes() == WHOLE
    assert not list(target.parent.glob("*.partial"))
    # As any file the process writes, not mkstemp's private 0600.
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_corrupted_part_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    corrupted = [PIECES[0], bytes([PIECES[1][0] ^ 1]) + PIECES[1][1:], PIECES[2]]
    target = tmp_path / "models" / "joined.gguf"
    with pytest.raises(LLMError, match="SHA-256 of the joined parts"):
        join_parts(_parts(tmp_path, corrupted), target, size=len(WHOLE), sha256=SHA)
    assert not target.exists()
    assert not list(target.parent.glob("*.partial"))


def test_a_truncated_part_is_refused_before_joining(tmp_path: Path) -> None:
    truncated = [PIECES[0], PIECES[1][:-10], PIECES[2]]
    target = tmp_path / "models" / "joined.gguf"
    with pytest.raises(LLMError, match=r"hold 9,224 bytes, 9,234 expected"):
        join_parts(_parts(tmp_path, truncated), target, size=len(WHOLE), sha256=SHA)
    assert not target.exists()


def _installed_file_model(tmp_path: Path) -> tuple[LocalModel, bytes]:
    """A registry entry whose one part is a real file of an installed distribution (pytest's
    own __init__.py), found the way model parts are: through package metadata."""
    version = metadata.version("pytest")
    distribution = metadata.distribution("pytest")
    relative = next(str(f) for f in distribution.files or [] if str(f) == "pytest/__init__.py")
    content = Path(str(distribution.locate_file(relative))).read_bytes()
    model = LocalModel(
        name="test-model",
        title="a real installed file",
        file_name="test-model.gguf",
        parts=(Part("pytest", version, relative),),
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        licence="MIT",
        chat_template="embedded",
        prompts="instruct",
        install="pip install pytest",
    )
    return model, content


def test_a_model_is_joined_once_then_trusted_by_its_stamp(tmp_path: Path) -> None:
    model, content = _installed_file_model(tmp_path)
    path = model_file(model, tmp_path)
    assert path.read_bytes() == content
    written = path.stat().st_mtime_ns
    assert model_file(model, tmp_path) == path
    assert path.stat().st_mtime_ns == written  # not joined again


def test_a_file_changed_since_it_was_verified_is_joined_again(tmp_path: Path) -> None:
    model, content = _installed_file_model(tmp_path)
    path = model_file(model, tmp_path)
    path.write_bytes(b"X" + content[1:])  # same size, new mtime: the stamp no longer matches
    assert model_file(model, tmp_path).read_bytes() == content


def test_a_part_of_another_version_is_refused(tmp_path: Path) -> None:
    model, _ = _installed_file_model(tmp_path)
    other = LocalModel(**{**model.__dict__, "parts": (Part("pytest", "0.0.1", "x"),)})
    with pytest.raises(LLMError, match=r"0\.0\.1 is pinned \(pip install pytest\)"):
        model_file(other, tmp_path)


def test_a_missing_package_says_what_to_install(tmp_path: Path) -> None:
    model, _ = _installed_file_model(tmp_path)
    missing = LocalModel(
        **{**model.__dict__, "parts": (Part("no-such-newsdesk-part", "1.0", "x"),)}
    )
    with pytest.raises(LLMError, match="no-such-newsdesk-part is not installed"):
        local_models.locate_parts(missing)


# --- the registry and the setting -----------------------------------------------------------


def test_the_setting_names_exactly_the_registry() -> None:
    assert set(get_args(LocalModelName)) == set(MODELS)
    assert Settings(_env_file=None).local_model == "qwen2.5-coder-0.5b"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_setting_selects_each_model(name: str, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, local_model=name, data_dir=tmp_path)
    chosen = local_models.selected(settings)
    assert chosen.name == name
    assert chosen.licence
    instruct = name != "gemma3-270m"
    assert local_models.prompt_set(settings) == ("instruct" if instruct else "plain")
    assert chosen.chat_template == ("embedded" if instruct else "plain")
    # Another backend keeps the plain prompts whatever the local model.
    remote = settings.model_copy(update={"backend": "openai"})
    assert local_models.prompt_set(remote) == "plain"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_installed_parts_add_up_to_the_pinned_size(name: str) -> None:
    model = MODELS[name]
    try:
        parts = local_models.locate_parts(model)
    except LLMError as exc:
        pytest.skip(f"{name} not installed here: {exc}")
    assert len(parts) == len(model.parts)
    assert sum(p.stat().st_size for p in parts) == model.size


def test_server_uses_the_plain_template_for_the_base_model_only(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"")
    for name in sorted(MODELS):
        settings = Settings(_env_file=None, local_model=name, data_dir=tmp_path)
        command = LocalLlamaServer(settings)._command(model, 1234)
        plain = "--hf_tokenizer_config_path" in command
        assert plain == (name == "gemma3-270m"), name
    assert (tmp_path / PLAIN_TEMPLATE_NAME).is_file()
    # A configured file keeps the template it carries, whatever `local_model` says.
    configured = Settings(_env_file=None, local_model_path=model, data_dir=tmp_path)
    assert "--hf_tokenizer_config_path" not in LocalLlamaServer(configured)._command(model, 1)


def test_instruct_prompts_are_instructions_in_chat_turns() -> None:
    passages = [passage("Alpha won the vote."), passage("Beta lost.", chunk_id=2)]
    system, user = answer_messages("Who won?", passages, "instruct")
    _, plain_user = answer_messages("Who won?", passages)
    phrase = answer_prompt("instruct").abstain_phrase
    assert phrase == answer_prompt().abstain_phrase  # the service's decline phrase
    assert f"reply exactly: {phrase}" in system["content"]
    assert "[2]" in system["content"] and "only" in system["content"]
    assert "[1] Alpha won the vote." in user["content"]
    assert "Question: Who won?" in user["content"]
    assert "Here is an example" not in user["content"]  # no one-shot scaffolding…
    assert "Here is an example" in plain_user["content"]  # …which the base model needs
    assert not user["content"].rstrip().endswith("Answer:")
    summary = summary_messages(passages, "Write at most two short sentences.", "instruct")
    assert "Write at most two short sentences." in summary[1]["content"]
    assert not summary[1]["content"].rstrip().endswith("Summary:")


# --- a real server with an instruction-tuned model ------------------------------------------

# The smallest instruction-tuned model whose packages newsdesk installs (the `test` extra).
INSTRUCT_MODEL = "qwen2.5-coder-0.5b"
NATO = (
    "Former NATO Secretary General Jens Stoltenberg revealed in an interview with the Danish "
    "television channel TV2 that NATO refused to close Ukraine's airspace in 2022. "
    "He explained that when Russian forces were near Kiev, Ukraine requested a no-fly zone, but "
    "Stoltenberg said this would require removing Russia's air defense and shooting down "
    "Russian planes over Ukrainian territory. The former NATO leader emphasized that such a "
    "move would have escalated the conflict into a direct confrontation between NATO and "
    "Russia, with catastrophic consequences for Europe."
)
KITTENS = "The shelter said 40 kittens were adopted in March, twice as many as a year earlier."


@pytest.mark.llm
def test_an_instruct_model_answers_in_its_chat_template_with_a_citation(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        local_model=INSTRUCT_MODEL,
        local_startup_seconds=LLM_PATIENCE_S,
        llm_timeout_seconds=LLM_PATIENCE_S,
    )
    prompt = answer_prompt("instruct")
    passages = [passage(KITTENS), passage(NATO, chunk_id=2)]
    with LocalLlamaServer(settings) as server:
        log = server.log_path.read_text(encoding="utf-8", errors="replace")
        completion = server.chat_model().complete(
            answer_messages(
                "Why did NATO refuse a no-fly zone over Ukraine?", passages, "instruct"
            ),
            max_tokens=120,
            temperature=0.0,
            stop=prompt.stop,
        )
    # llama.cpp formats the turns with the GGUF's own template (ChatML for Qwen2.5)…
    assert "Using chat eos_token: <|im_end|>" in log
    # …and the model ends its turn by itself, with passage 2's reason and a citation marker.
    # (Which number it cites is the checker's to judge: the 0.5B model often writes the
    # marker before the sentence, as the passages are shown, and then with the wrong number.)
    assert completion.finish_reason == "stop"
    assert re.search(r"\[[12]\]", completion.text)
    assert re.search(r"escalat|confrontation", completion.text, re.I)
    assert "kitten" not in completion.text.lower()
