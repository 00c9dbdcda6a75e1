"""The README and docs/ as a reader uses them: blocks that run, links that lead somewhere, commands that parse.

A fenced block preceded by ``<!-- run: offline -->`` is run as written (``sh`` with bash, ``python``
with this interpreter) in a temporary project root that holds a lake made by ``wirehouse demo``, in
order, README first. An ``<!-- output -->`` block right after it lists lines its output must contain.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port
from wirehouse.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
RUN_MARK = "<!-- run: offline -->"
OUTPUT_MARK = "<!-- output -->"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
INLINE = re.compile(r"`([^`\n]+)`")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    body: str
    mark: str  # the HTML comment on the last non-blank line before the fence, else ""

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    previous, i = "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            start, lang, body = i, line[3:].strip(), []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            mark = previous if previous.startswith("<!--") else ""
            found.append(Block(page, start + 1, lang, "\n".join(body) + "\n", mark))
            previous = ""
        elif line.strip():
            previous = line.strip()
        i += 1
    return found


def shell_lines(body: str) -> Iterator[str]:
    """The commands of a shell block, continuation lines joined."""
    yield from (line for line in body.replace("\\\n", " ").splitlines() if line.strip())


def outside_code(page: Path) -> str:
    """The page's prose: fenced blocks removed (a link inside a block is an example, not a link)."""
    return re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    names = set()
    for heading in re.findall(r"^#+ (.+)$", outside_code(page), flags=re.MULTILINE):
        names.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return names


# ------------------------------------------------------------------ cheap checks


def test_readme_opens_with_make_run_and_make_test():
    first = blocks(README)[0]
    text = README.read_text(encoding="utf-8")
    assert text.index("```") < text.index("\n## "), "the README must open with its set-up block"
    commands = [line.split("#")[0].strip() for line in shell_lines(first.body)]
    assert commands == ["make run", "make test"], first.body


def test_readme_is_at_most_250_lines():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_to_an_existing_file(page):
    broken = []
    for target in LINK.findall(outside_code(page)):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def wirehouse_commands(page: Path) -> Iterator[tuple[str, list[str], bool]]:
    """Every ``wirehouse …`` command of the page's shell blocks, and the inline ones without placeholders.

    Yields the place and line, the arguments, and whether it is inline prose (where ``wirehouse feeds
    add`` may name a command without giving its arguments).
    """
    candidates = [
        (b.where(), line, False) for b in blocks(page) if b.lang in ("sh", "") for line in shell_lines(b.body)
    ]
    candidates += [
        (str(page.relative_to(ROOT)), span, True)
        for span in INLINE.findall(outside_code(page))
        if span.startswith("wirehouse ") and "…" not in span and "FILE" not in span
    ]
    for where, line, inline in candidates:
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise AssertionError(f"{where}: {line!r}: {exc}") from exc
        while words and re.match(r"^[A-Z_]+=", words[0]):  # VAR=value before the command
            words.pop(0)
        if not words or not (words[0] == "wirehouse" or words[0].endswith("/wirehouse")):
            continue
        args = []
        for word in words[1:]:
            if word in (">", "|", "&", "&&", ";"):
                break
            args.append(word)
        yield f"{where}: {line.strip()}", args, inline


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_wirehouse_command_parses_with_the_cli(page, capsys):
    parser = build_parser()
    bad = []
    for where, args, inline in wirehouse_commands(page):
        try:
            parser.parse_args(args)
        except SystemExit:
            error = capsys.readouterr().err.strip().splitlines()[-1]
            if not (inline and "arguments are required" in error):
                bad.append(f"{where}\n    {error}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_make_target_and_python_module_shown_exists(page):
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))
    shown = [span for span in INLINE.findall(outside_code(page))]
    shown += [line for b in blocks(page) if b.lang in ("sh", "") for line in shell_lines(b.body)]
    missing = []
    for text in shown:
        for target in re.findall(r"(?:^|[\s(])make ([a-z][a-z-]*)", text):
            if target not in targets:
                missing.append(f"make {target}")
        for module in re.findall(r"python -m ([\w.]+)", text):
            if importlib.util.find_spec(module) is None:
                missing.append(f"python -m {module}")
    assert not missing, f"{page.relative_to(ROOT)}: {missing}"


def test_runnable_blocks_are_marked_where_the_reader_expects():
    marked = [b for page in PAGES for b in blocks(page) if b.mark == RUN_MARK]
    assert any(b.page == README for b in marked), "the README's tour is run by test_offline_blocks_run"
    for b in marked:
        assert b.lang in ("sh", "python"), f"{b.where()}: a marked block must be sh or python"


# ------------------------------------------------------------------ the blocks a reader runs


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project root as `make run` leaves it: .venv/bin/wirehouse, warehouse/queries/ and the demo's lake."""
    script = Path(sys.executable).parent / "wirehouse"
    if not script.exists():
        pytest.skip(f"{script} is not installed (pip install -e .)")
    root = tmp_path_factory.mktemp("project")
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "wirehouse").symlink_to(script)
    (root / "warehouse").mkdir()
    (root / "warehouse" / "queries").symlink_to(ROOT / "warehouse" / "queries")
    result = subprocess.run(
        [str(script), "demo", "--port", str(free_port()), "--warehouse", "warehouse/news.sqlite"],
        capture_output=True,
        text=True,
        cwd=root,
        env=user_env(root),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (root / "demo.out").write_text(result.stdout, encoding="utf-8")
    return root


def user_env(root: Path) -> dict[str, str]:
    """The environment of a user's shell: none of the test suite's WIREHOUSE_* settings, no Prefect server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREHOUSE_")}
    env["PREFECT_API_URL"] = ""
    env["PATH"] = f"{root / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def runnable() -> list[tuple[Block, Block | None]]:
    pairs = []
    for page in PAGES:
        found = blocks(page)
        for i, b in enumerate(found):
            if b.mark == RUN_MARK:
                after = found[i + 1] if i + 1 < len(found) and found[i + 1].mark == OUTPUT_MARK else None
                pairs.append((b, after))
    return pairs


@pytest.mark.parametrize(("block", "output"), runnable(), ids=lambda b: b.where() if b else "")
def test_offline_blocks_run_as_written(project, block, output):
    if block.lang == "sh":
        command = ["bash", "-e", "-o", "pipefail", "-c", block.body]
    else:
        command = [sys.executable, "-c", block.body]
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=project, env=user_env(project), timeout=120
    )
    shown = result.stdout + result.stderr
    assert result.returncode == 0, f"{block.where()} exited {result.returncode}:\n{shown}"
    assert "Traceback" not in shown, shown
    if output is not None:
        printed = {line.rstrip() for line in result.stdout.splitlines()}
        missing = [line for line in output.body.splitlines() if line.strip() and line.rstrip() not in printed]
        assert not missing, f"{output.where()}: not printed: {missing}\n{result.stdout}"


def toml_examples() -> list[Block]:
    return [b for page in PAGES for b in blocks(page) if b.lang == "toml"]


@pytest.mark.parametrize("block", toml_examples(), ids=lambda b: b.where())
def test_toml_examples_are_read_by_wirehouse(project, block, tmp_path):
    """A settings file example is accepted by a command; a feed list example imports."""
    example = tmp_path / "example.toml"
    example.write_text(block.body, encoding="utf-8")
    env = user_env(project)
    if "[wirehouse]" in block.body:
        command = [".venv/bin/wirehouse", "stats"]
        env["WIREHOUSE_SETTINGS"] = str(example)
    else:
        assert "[[feed]]" in block.body, f"{block.where()}: neither settings nor a feed list"
        command = [
            ".venv/bin/wirehouse",
            "feeds",
            "import",
            str(example),
            "--warehouse",
            str(tmp_path / "f.sqlite"),
        ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=project, env=env, timeout=120)
    assert result.returncode == 0, f"{block.where()}: {result.stdout}{result.stderr}"


def reading_examples() -> list[tuple[str, str]]:
    """The search and time-travel examples of every page's shell blocks (they read the lake, and the
    sample newsroom must answer them: an example that finds nothing teaches nothing)."""
    found = []
    for page in PAGES:
        for b in blocks(page):
            for line in shell_lines(b.body) if b.lang in ("sh", "") else ():
                try:
                    words = shlex.split(line, comments=True)
                except ValueError:  # a multi-line string; test_every_wirehouse_command_parses… names it
                    continue
                if (words[:2] == ["wirehouse", "search"] and "--rebuild" not in words) or "--as-of" in words:
                    found.append((b.where(), line))
    return found


@pytest.mark.parametrize(("where", "line"), reading_examples(), ids=lambda v: v if ":" in v else "")
def test_search_and_time_travel_examples_answer_on_the_sample(project, where, line):
    words = shlex.split(line, comments=True)
    words[0] = str(project / ".venv" / "bin" / "wirehouse")
    result = subprocess.run(
        words, capture_output=True, text=True, cwd=project, env=user_env(project), timeout=120
    )
    assert result.returncode == 0, f"{where}: {line}\n{result.stdout}{result.stderr}"
    assert "(0 rows)" not in result.stdout, f"{where}: {line} finds nothing on the sample"
    # A count of nothing (one row holding 0) finds nothing either.
    assert not re.search(r"^0\s*$", result.stdout, re.MULTILINE), f"{where}: {line} counts 0 on the sample"


# ------------------------------------------------------------------ what the README predicts


def readme_quotes() -> list[str]:
    return INLINE.findall(README.read_text(encoding="utf-8"))


def test_the_readme_predicts_the_failures_line_of_make_run(project):
    summary = (project / "demo.out").read_text(encoding="utf-8").splitlines()
    failures = [line for line in summary if line.startswith("failures:")]
    assert failures, "the demo prints no failures line"
    for line in failures:
        assert line in readme_quotes(), f"README.md does not predict `{line}` of make run"


def test_the_readme_predicts_what_a_plain_ingest_says_after_make_run(project):
    result = subprocess.run(
        [str(project / ".venv" / "bin" / "wirehouse"), "ingest"],
        capture_output=True,
        text=True,
        cwd=project,
        env=user_env(project),
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    error = result.stderr.strip().splitlines()[-1].removeprefix("wirehouse: error: ")
    predicted = [q.removesuffix(" …") for q in readme_quotes() if q.startswith("no feed could be fetched")]
    assert predicted and all(error.startswith(q) for q in predicted), error
    assert "wirehouse demo --serve" in error and "`wirehouse demo --serve`" in README.read_text(
        encoding="utf-8"
    )


def test_the_readme_says_how_its_bare_wirehouse_commands_are_found():
    # A new user types `wirehouse ...` as shown; it is found only with the virtualenv on PATH.
    first = next(
        b for b in blocks(README) if any(line.startswith("wirehouse ") for line in b.body.splitlines())
    )
    before = README.read_text(encoding="utf-8").splitlines()[: first.line - 1]
    assert "source .venv/bin/activate" in "\n".join(before)
