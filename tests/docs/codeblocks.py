"""The fenced code blocks of the README and the docs pages, with the directives that say how a test runs them.

A directive is an HTML comment (invisible on GitHub and in the built site) on the line(s) right before a fence::

    <!-- docs-test: slow; replace: --epochs 10 => --epochs 1 -->
    ```bash
    ...
    ```

Directives, separated by ``;``:

- ``skip: REASON`` - not executed (network, a cluster, Docker, a signature listing); the reason is required and
  the skipped blocks are listed by ``python3 -m tests.docs.codeblocks``.
- ``slow`` - executed only by ``pytest -m slow`` (trains or exports a model, starts TensorFlow).
- ``replace: OLD => NEW`` - run with ``OLD`` replaced (smaller sizes; repeatable).
- ``before: COMMAND`` - a shell command run first in the workspace (inputs not worth showing; repeatable).
- ``server: ARGS`` - the test starts ``seq2exp serve ARGS --port 8500 --rest-port 8501`` in the workspace first
  (ports made free, see below), waits for it, and stops it after the block.
- ``timeout: SECONDS`` - default 300.

``bash``/``sh``/``shell``/``console`` and ``python`` blocks are executed; any other language (``text``, ``json``,
``yaml``, none) is output or an example and is not. The pages run in reading order (README, then the site's
navigation) in one workspace, so a block may use what an earlier one wrote (the train page's runs are exported
on the export page and served on the serve page).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
EXECUTED_LANGUAGES = SHELL_LANGUAGES | {"python"}
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
_DIRECTIVE = re.compile(r"<!--\s*docs-test:(?P<body>.*?)-->", re.S)


@dataclass
class CodeBlock:
    """One fenced block: where it is, its language, its text and its directives."""

    path: Path
    line: int               # 1-based line of the opening fence
    language: str
    code: str
    skip: str | None = None
    slow: bool = False
    replace: list[tuple[str, str]] = field(default_factory=list)
    before: list[str] = field(default_factory=list)
    server: str | None = None
    timeout: float = 300.0

    @property
    def executed(self) -> bool:
        return self.language in EXECUTED_LANGUAGES and self.skip is None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"

    def runnable_code(self) -> str:
        code = self.code
        for old, new in self.replace:
            if old not in code:
                raise ValueError(f"{self.id}: replace: {old!r} is not in the block")
            code = code.replace(old, new)
        return code


def _apply_directives(block: CodeBlock, text: str) -> None:
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, _, value = part.partition(":")
        key, value = key.strip(), value.strip()
        if key == "skip":
            if not value:
                raise ValueError(f"{block.id}: skip needs a reason")
            block.skip = value
        elif key == "slow":
            block.slow = True
        elif key == "replace":
            old, sep, new = value.partition("=>")
            if not sep:
                raise ValueError(f"{block.id}: replace needs OLD => NEW")
            block.replace.append((old.strip(), new.strip()))
        elif key == "before":
            block.before.append(value)
        elif key == "server":
            block.server = value
        elif key == "timeout":
            block.timeout = float(value)
        else:
            raise ValueError(f"{block.id}: unknown docs-test directive {key!r}")


def extract_blocks(path: Path) -> list[CodeBlock]:
    """The fenced blocks of a Markdown file, in order, with the directives written right before each."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, info = match.group("fence"), match.group("info").strip()
        start = i
        body = []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence))
                                      and set(lines[i].strip()) == {fence[0]}):
            body.append(lines[i][len(match.group("indent")):] if lines[i].startswith(match.group("indent")) else lines[i])
            i += 1
        i += 1
        block = CodeBlock(Path(path).resolve(), start + 1, (info.split() or [""])[0].lower(), "\n".join(body) + "\n")
        # directives: the comment lines right above the fence (blank lines between are allowed)
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        comment: list[str] = []
        if j >= 0 and lines[j].rstrip().endswith("-->"):
            while j >= 0:
                comment.insert(0, lines[j])
                if "<!--" in lines[j]:
                    break
                j -= 1
        for directive in _DIRECTIVE.finditer("\n".join(comment)):
            _apply_directives(block, " ".join(directive.group("body").split()))
        blocks.append(block)
    return blocks


def nav_pages() -> list[Path]:
    """The site's pages in ``mkdocs.yml``'s navigation order."""
    text = (REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:"):]
    return [REPO_ROOT / "docs" / name for name in re.findall(r":\s*([\w./-]+\.md)\s*$", nav, re.M)]


def documents() -> list[Path]:
    """The Markdown files whose blocks are tested, in reading order: the README, the site's pages in navigation
    order (a newcomer follows them top to bottom; later pages use what earlier ones made), then any other page."""
    pages = [REPO_ROOT / "README.md", *nav_pages()]
    return pages + [path for path in sorted((REPO_ROOT / "docs").rglob("*.md")) if path not in pages]


def all_blocks() -> list[CodeBlock]:
    return [block for path in documents() for block in extract_blocks(path)]


if __name__ == "__main__":  # the blocks that are not executed, and why
    for block in all_blocks():
        if block.language in EXECUTED_LANGUAGES:
            state = f"skip: {block.skip}" if block.skip else ("slow" if block.slow else "run")
            print(f"{block.id:<28} {block.language:<7} {state}")
