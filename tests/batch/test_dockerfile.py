"""The Dockerfile's export and batch-inference stages run without a docker engine.

The stages' instructions are PARSED from the Dockerfile (not copied here) and replayed in order against a fresh
virtual environment and a temporary root folder that stands for the image's ``/``: ``COPY`` copies from a build
context, ``WORKDIR`` changes folder, ``ENV``/``ARG`` set the environment, each ``RUN`` line runs in ``/bin/sh`` with
the image's absolute paths mapped into the temporary root, and the batch-inference target's ``ENTRYPOINT`` then
scores a file with the exported model. A broken ``RUN`` line, a wrong path or a missing step fails here.

Cheap variant (default suite): the venv sees the test environment's packages (``--system-site-packages``) and the
``pip install`` lines install the local package only (``--no-deps -e``); the pins they name are checked against
setup.py instead. The expensive variant (``slow``) runs the ``pip install`` lines as written in an empty venv.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.serving.conftest import random_promoters

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
SKIPPED_COMMANDS = ("useradd",)  # needs root; the user only matters inside a real image


@dataclass
class Stage:
    name: str
    base: str
    args: dict[str, str | None] = field(default_factory=dict)
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_dockerfile(text: str) -> tuple[dict[str, str], dict[str, Stage]]:
    """(global ARG defaults, stages by name) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line.strip())
        current = ""
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            stage = Stage(words[2] if len(words) > 2 else words[0], words[0])
            stages[stage.name] = stage
        elif stage is None:
            assert keyword == "ARG", line
            name, _, default = rest.partition("=")
            global_args[name.strip()] = default.strip()
        else:
            stage.instructions.append((keyword, rest.strip()))
    return global_args, stages


def build_order(stages: dict[str, Stage], target: str) -> list[Stage]:
    """The stages ``target`` needs (its base chain and every ``COPY --from`` stage), dependencies first."""
    order: list[Stage] = []

    def visit(name: str) -> None:
        if name not in stages or stages[name] in order:
            return
        stage = stages[name]
        visit(stage.base)
        for keyword, rest in stage.instructions:
            if keyword == "COPY":
                for word in rest.split():
                    if word.startswith("--from="):
                        visit(word.split("=", 1)[1])
        order.append(stage)

    visit(target)
    return order


def container_dirs(stages: dict[str, Stage]) -> set[str]:
    """The image's top-level folders that the Dockerfile names (WORKDIR, COPY destinations and --from sources)."""
    found = set()
    for stage in stages.values():
        for keyword, rest in stage.instructions:
            words = [w for w in rest.split() if not w.startswith("--")]
            if keyword == "WORKDIR" or (keyword == "COPY" and "--from=" in rest):
                found.update(w.strip("/").split("/")[0] for w in words if w.startswith("/"))
            elif keyword == "COPY" and words[-1].startswith("/"):
                found.add(words[-1].strip("/").split("/")[0])
    return found


def _substitute(text: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text)


def _cheap_pip(command: str, dropped: list[str]) -> str:
    """Each ``pip install ...`` of ``command`` -> ``pip install --no-deps -e LOCAL`` (requirement specs dropped and
    collected in ``dropped``); a pip line without a local path becomes ``true``."""
    parts = []
    for part in re.split(r"(&&|;)", command):
        words = shlex.split(part) if "pip install" in part else None
        if not words or words[:2] != ["pip", "install"]:
            parts.append(part)
            continue
        local = [w for w in words[2:] if not w.startswith("-") and (w.startswith(".") or w.startswith("/"))]
        dropped.extend(w for w in words[2:] if not w.startswith("-") and w not in local)
        editable = " ".join(f"-e {shlex.quote(w)}" for w in local)
        parts.append(f" pip install --quiet --no-deps --no-build-isolation {editable} " if local else " true ")
    return "".join(parts)


class LocalImage:
    """Replays stages into ``root`` (the image's ``/``) with a venv's ``bin`` first on ``PATH``."""

    def __init__(self, root: Path, context: Path, venv: Path, global_args: dict[str, str], build_args: dict,
                 cheap: bool, stages: dict[str, Stage]):
        self.root, self.context, self.cheap = root, context, cheap
        self.env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
                    "VIRTUAL_ENV": str(venv), "HOME": str(root / "root")}
        self.env.pop("PYTHONPATH", None)  # the image's seq2exp is the one its RUN lines install
        self.args = {**global_args, **build_args}
        self.workdir = root
        self.finished: dict[str, tuple[Path, dict]] = {}  # stage -> (its WORKDIR, its environment) at its end
        self.dropped: list[str] = []
        self.entrypoint: list[str] = []
        self.cmd: list[str] = []
        self.container_dirs = container_dirs(stages)

    def host(self, path: str) -> Path:
        return self.root / path.lstrip("/") if path.startswith("/") else self.workdir / path

    def map_paths(self, command: str) -> str:
        if not self.container_dirs:
            return command
        pattern = r"(?<![\w./-])/(" + "|".join(sorted(self.container_dirs)) + r")(?=[/\s\"';]|$)"
        return re.sub(pattern, lambda m: f"{self.root}/{m.group(1)}", command)

    def apply(self, stage: Stage) -> None:
        """Replay ``stage`` on top of its base stage's WORKDIR and environment (all stages share one root)."""
        if stage.base in self.finished:
            self.workdir, env = self.finished[stage.base]
            self.env = dict(env)
        for keyword, rest in stage.instructions:
            if keyword == "ARG":
                name, _, default = rest.partition("=")
                value = self.args.get(name.strip(), default.strip())
                self.env[name.strip()] = value
            elif keyword == "ENV":
                for item in shlex.split(rest):
                    key, _, value = item.partition("=")
                    self.env[key] = value
            elif keyword == "WORKDIR":
                self.workdir = self.host(rest)
                self.workdir.mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                self._copy(_substitute(rest, self.env))
            elif keyword == "RUN":
                self._run(rest)
            elif keyword == "ENTRYPOINT":
                self.entrypoint = json.loads(rest)
            elif keyword == "CMD":
                self.cmd = json.loads(rest)
            elif keyword in ("USER", "EXPOSE"):
                continue
            else:
                raise AssertionError(f"stage {stage.name}: instruction {keyword} not replayed by this test")
        self.finished[stage.name] = (self.workdir, dict(self.env))

    def _copy(self, rest: str) -> None:
        words = shlex.split(rest)
        source_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
        paths = [w for w in words if not w.startswith("--")]
        *sources, dest = paths
        target = self.host(dest)
        for source in sources:
            origin = self.host(source) if source_stage else self.context / source
            assert origin.exists(), f"COPY {rest}: {origin} does not exist"
            if source_stage:  # every stage shares one root: a COPY --from of the same path is already there
                if origin.resolve() == target.resolve():
                    continue
            into = target / origin.name if (dest.endswith("/") or len(sources) > 1) else target
            if origin.is_dir():
                shutil.copytree(origin, into, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into)

    def _run(self, command: str) -> None:
        if command.split()[0] in SKIPPED_COMMANDS:
            return
        if self.cheap:
            command = _cheap_pip(_substitute(command, self.env), self.dropped)
        command = self.map_paths(command)
        result = subprocess.run(["/bin/sh", "-c", command], cwd=self.workdir, env=self.env, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, f"RUN {command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"

    def entry(self, *args: str) -> subprocess.CompletedProcess:
        argv = [self.map_paths(a) for a in [*self.entrypoint, *(args or self.cmd)]]
        return subprocess.run(argv, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=600)


def _fresh_venv(path: Path, system_site_packages: bool) -> Path:
    """A new venv. The cheap one sees the test environment's packages and borrows its pip (``python -m pip``
    installs into the venv it runs in); the expensive one is empty with its own pip."""
    if not system_site_packages:
        subprocess.run([sys.executable, "-m", "venv", "--upgrade-deps", str(path)], check=True, capture_output=True)
        return path
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)], check=True,
                   capture_output=True)
    if sys.prefix != sys.base_prefix:
        # the tests run inside a venv: let the fresh one see this interpreter's packages as its "system" ones
        purelib = next(Path(p) for p in site.getsitepackages() if "site-packages" in p)
        (next((path / "lib").glob("python*")) / "site-packages" / "parent-env.pth").write_text(f"{purelib}\n")
    pip = path / "bin" / "pip"
    pip.write_text(f'#!/bin/sh\nexec "{path / "bin" / "python"}" -m pip "$@"\n')
    pip.chmod(0o755)
    return path


def _context(tmp: Path, tiny_run: Path) -> Path:
    """A build context: the files the Dockerfile copies, and ./runs/tiny (a training run)."""
    context = tmp / "context"
    context.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy2(REPO / name, context / name)
    shutil.copytree(REPO / "seq2exp", context / "seq2exp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(tiny_run, context / "runs" / "tiny")
    return context


def _setup_pins() -> dict[str, str]:
    text = (REPO / "setup.py").read_text()
    return dict(re.findall(r'"([A-Za-z0-9_.-]+)==([0-9][^"]*)"', text))


def _build(tmp_path: Path, tiny_run: Path, cheap: bool, score: bool) -> LocalImage:
    """Replay the batch-inference target's stages; check its default command (and, with ``score``, a real run)."""
    global_args, stages = parse_dockerfile(DOCKERFILE.read_text())
    chain = build_order(stages, "batch-inference")
    assert [s.name for s in chain] == ["builder", "export", "beam", "batch-inference"]
    venv = _fresh_venv(tmp_path / "venv", system_site_packages=cheap)
    image = LocalImage(tmp_path / "root", _context(tmp_path, tiny_run), venv, global_args, {}, cheap, stages)
    assert {"src", "runs", "models", "data"} <= image.container_dirs
    for stage in chain:
        image.apply(stage)
    models = image.root / "models"
    assert (models / "tiny" / "1" / "saved_model.pb").is_file() and (models / "config" / "models.config").is_file()
    help_run = image.entry()  # the target's default command: `seq2exp batch --help`
    assert help_run.returncode == 0 and "--beam-option" in help_run.stdout, help_run.stderr[-2000:]
    if score:
        _score(image)
    return image


def _score(image: LocalImage) -> None:
    """The image's ENTRYPOINT scores a file (one bad row) with the model its export stage wrote."""
    models = image.root / "models"
    data = image.workdir
    (data / "in.txt").write_text("".join(f"{s}\n" for s in random_promoters(40, seed=9)) + "ACGTZ\n")
    result = image.entry("in.txt", "-o", "out", "--saved-model", "/models/tiny")
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((data / "out" / "manifest.json").read_text())
    assert (manifest["rows_in"], manifest["rows_out"], manifest["rows_rejected"]) == (41, 40, 1)
    assert manifest["model"]["path"] == str(models / "tiny" / "1")


def test_dockerfile_export_and_batch_inference_stages_run(tmp_path, tiny_run):
    image = _build(tmp_path, tiny_run, cheap=True, score=False)
    pins = _setup_pins()
    beam_pin = next(spec for spec in image.dropped if spec.startswith("apache-beam=="))
    assert beam_pin == f"apache-beam=={pins['apache-beam']}"  # the image installs the tested Beam
    assert {spec.split("==")[0] for spec in image.dropped} <= {"tensorflow", "keras", "tensorflow-serving-api", "apache-beam"}


def test_beam_worker_image_matches_the_pipeline():
    """The worker image extends the batch image (same seq2exp, models and Beam) and boots with Beam's SDK harness
    of the same Beam release and Python version (a mismatch fails at job submission)."""
    global_args, stages = parse_dockerfile(DOCKERFILE.read_text())
    assert global_args["BEAM_VERSION"] == _setup_pins()["apache-beam"]
    assert [s.name for s in build_order(stages, "beam-worker")] == ["builder", "export", "beam", "beam-sdk",
                                                                     "beam-worker"]
    sdk = stages["beam-sdk"].base
    python = re.match(r"python:(\d+\.\d+)", stages["builder"].base).group(1)
    assert sdk == f"apache/beam_python{python}_sdk:${{BEAM_VERSION}}"
    worker = stages["beam-worker"].instructions
    assert ("COPY", "--from=beam-sdk /opt/apache/beam /opt/apache/beam") in worker
    assert ("ENTRYPOINT", '["/opt/apache/beam/boot"]') in worker


@pytest.mark.slow
def test_dockerfile_stages_with_real_installs(tmp_path, tiny_run):
    """The pip lines exactly as written (TensorFlow, Serving API and Beam at the Dockerfile's versions) in an empty
    venv, then a real scoring run: minutes and a few GB of downloads."""
    _build(tmp_path, tiny_run, cheap=False, score=True)


@pytest.mark.slow
def test_dockerfile_batch_inference_entrypoint_scores_a_file(tmp_path, tiny_run):
    """The cheap replay, then the target's ENTRYPOINT on a real file (another TensorFlow + Beam start, ~15 s)."""
    _build(tmp_path, tiny_run, cheap=True, score=True)
