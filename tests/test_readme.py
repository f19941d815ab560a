"""Every fenced shell and Python example of the README runs, so the documentation cannot drift from the code.

- Quick start: its lines are the ones ``.ci/run`` executes (install, the seed, the tests), and its
  main job runs here with the real model.
- Command line: each command runs in-process over the tiny model and the stand-in embedder, in a
  folder holding the files it names; a command with ``--workers`` above 1 starts worker processes,
  which load the real model, so it runs as a subprocess (slow).
- Reports and the local page: the ``--html`` commands run in-process like the command line's; ``reorder
  serve`` runs as a subprocess over the tiny model and the stand-in embedder, on a free port put in
  place of the README's, and the API example is executed against it as written.
- Library: executed as written, with the real model (slow).
- Training: each command runs on the first few documents of the corpora it names, into a temporary
  directory instead of the shipped model's (slow, corpora).
- The fine-tuned reader: its commands run in order as one script (the coherence models on a few
  documents; each reader trains for seconds on a few documents and tunes on three), writing into a
  temporary directory (slow, corpora).
- Headlines: the detector's training command runs on the first few documents of each corpus, with
  the faster MiniLM embeddings, into a temporary directory (slow, corpora).
- Evaluation: ``reproduce.sh`` takes hours; its syntax is checked and every experiment it runs must
  answer ``--help`` (so each still imports and parses its options).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from reorder import split
from reorder.finetuned import CombinedScorer, load_scorer

from conftest import CORPORA, REPO, STORIES
from pages import free_port, serve_process, units_shown

README = (REPO / "README.md").read_text(encoding="utf-8")
# Subprocesses import this checkout's reorder, even where another one is installed (CI's bare clone).
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
_FENCE = re.compile(r"^## (?P<section>[^\n]+)$|^```(?P<lang>sh|bash|python)\n(?P<body>.*?)^```$", re.M | re.S)


def _blocks() -> list[tuple[str, str, str]]:
    """(section, language, body) of every fenced shell or Python block, in README order."""
    found, section = [], ""
    for match in _FENCE.finditer(README):
        if match.group("section"):
            section = match.group("section").strip()
        else:
            found.append((section, match.group("lang"), match.group("body")))
    return found


BLOCKS = _blocks()


def _block(section: str, lang: str) -> str:
    """The section's blocks of this language, joined."""
    bodies = [body for s, lang_, body in BLOCKS if s == section and lang_ == lang]
    assert bodies, f"no {lang} block under '## {section}'"
    return "\n".join(bodies)


def _commands(body: str) -> list[str]:
    """The block's commands: continuation lines joined, comments and blank lines dropped."""
    joined = body.replace("\\\n", " ")
    return [line.split(" #")[0].strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_every_block_is_run_by_a_test_here():
    covered = {("Quick start", "sh"), ("Command line", "sh"), ("Library", "python"),
               ("Reports and the local page", "sh"), ("Reports and the local page", "python"),
               ("Training and reproducing the shipped models", "sh"), ("The fine-tuned reader", "sh"),
               ("Headlines", "sh"), ("Evaluation", "sh")}
    assert {(section, lang) for section, lang, _ in BLOCKS} == covered


# --- Quick start -----------------------------------------------------------------------------------


def test_quick_start_is_what_ci_runs():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    lines = _commands(_block("Quick start", "sh"))
    assert len(lines) == 3
    install, main_job, tests = lines
    assert install in ci and tests in ci
    assert any(line.startswith(main_job) for line in ci)


@pytest.mark.slow
def test_quick_start_main_job_prints_every_paragraph_of_the_seed_once(seed_text):
    from collections import Counter

    from reorder import split

    main_job = _commands(_block("Quick start", "sh"))[1]
    out = subprocess.run([sys.executable, "-m", "reorder", *shlex.split(main_job)[1:]], cwd=REPO, env=ENV,
                         capture_output=True, text=True, check=True).stdout
    assert Counter(split(out).units) == Counter(split(seed_text).units)


# --- Command line ----------------------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path, monkeypatch, seed_text):
    """A folder with the files the README's commands name: article.txt, corpus.jsonl, dev.jsonl."""
    stories = [json.loads(line) for line in STORIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    (tmp_path / "article.txt").write_text(seed_text, encoding="utf-8")
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(s) + "\n" for s in stories[:30]), encoding="utf-8")
    (tmp_path / "dev.jsonl").write_text("".join(json.dumps(s) + "\n" for s in stories[30:]), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REORDER_CACHE", str(tmp_path / "cache.sqlite"))  # not the user's cache
    return tmp_path


def _parallel(command: str) -> bool:
    args = shlex.split(command)
    return "--workers" in args and int(args[args.index("--workers") + 1]) > 1


CLI_COMMANDS = _commands(_block("Command line", "sh"))


@pytest.mark.filterwarnings("ignore:Got `batch_size`")  # `reorder train` on 30 short stories
@pytest.mark.parametrize("command", [c for c in CLI_COMMANDS if not _parallel(c)])
def test_command_line_example_runs(command, cli, workspace, stand_in, monkeypatch):
    import reorder.training

    monkeypatch.setattr(reorder.training, "load_embedder", lambda model=None, **kw: stand_in)
    args = shlex.split(command)
    assert args[0] == "reorder"
    result = cli(*args[1:])
    assert result.exit_code == 0, result.output
    if "--format" in args and "json" in args:
        assert "signature" in json.loads(result.stdout)
    if args[1] == "train":
        assert (workspace / args[args.index("-o") + 1] / "model.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in CLI_COMMANDS if _parallel(c)])
def test_command_line_example_with_workers_runs(command, workspace):
    args = shlex.split(command)
    completed = subprocess.run([sys.executable, "-m", "reorder", *args[1:], "-q"], cwd=workspace, env=ENV,
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    if "--output-dir" in args:
        parts = sorted((workspace / args[args.index("--output-dir") + 1]).glob("part-*.jsonl"))
        text = "".join(part.read_text(encoding="utf-8") for part in parts)
    else:
        text = (workspace / args[args.index("-o") + 1]).read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    inputs = [a for k, a in enumerate(args[2:], 2) if a.endswith(".jsonl") and args[k - 1] not in ("-o", "--output")]
    expected = sum(len((workspace / name).read_text(encoding="utf-8").splitlines()) for name in inputs)
    assert len(lines) == expected and all("signature" in line for line in lines)


# --- Reports and the local page ------------------------------------------------------------------

REPORT_COMMANDS = _commands(_block("Reports and the local page", "sh"))


@pytest.mark.parametrize("command", [c for c in REPORT_COMMANDS if " serve" not in c])
def test_report_example_writes_its_report(command, cli, workspace):
    args = shlex.split(command)
    result = cli(*args[1:])
    assert result.exit_code == 0, result.output
    page = (workspace / args[args.index("--html") + 1]).read_text(encoding="utf-8")
    article = (workspace / args[2]).read_text(encoding="utf-8")
    assert sorted(t for _, t in units_shown(page)) == sorted(split(article).units)


def test_serve_example_answers_the_api_example(workspace, tiny_model_dir, capsys):
    (command,) = [c for c in REPORT_COMMANDS if " serve" in c]
    args = shlex.split(command)
    assert args[:2] == ["reorder", "serve"] and args[args.index("--port") + 1] == "8765"
    port = free_port()
    del args[args.index("--port"):args.index("--port") + 2]
    example = _block("Reports and the local page", "python")
    assert "http://127.0.0.1:8765/" in example
    with serve_process(tiny_model_dir, *args[2:], port=port):
        namespace = {"__name__": "readme"}
        exec(compile(example.replace(":8765/", f":{port}/"), "README.md (Reports)", "exec"), namespace)
    answer = namespace["answer"]
    content = [i for i in answer["permutation"] if answer["units"][i]["role"] == "content"]
    assert content[0] == 4 and content.index(6) < content.index(2) and answer["cost"] >= 0
    assert str(answer["permutation"]) in capsys.readouterr().out


# --- Library ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_library_example_runs(monkeypatch, capsys, real_reorderer, seed_text):
    """The example prints the seed reordered: every paragraph once, in the order the shipped model
    gives (not the input's), then the permutation it printed for the same order."""
    monkeypatch.chdir(REPO)
    exec(compile(_block("Library", "python"), "README.md (Library)", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    expected = real_reorderer.reorder_text(seed_text)
    assert out.startswith(expected.text) and expected.text != seed_text
    assert sorted(expected.text.rstrip("\n").split("\n\n")) == sorted(seed_text.rstrip("\n").split("\n\n"))
    assert f"{expected.permutation} {expected.optimal} {expected.signature}" in out


# --- Training --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.corpora
@pytest.mark.parametrize("command", _commands(_block("Training and reproducing the shipped models", "sh")))
def test_training_example_runs_on_a_few_documents(command, tmp_path):
    args = shlex.split(command)
    assert args[args.index("-o") + 1].startswith("reorder/models/")
    _train_on_a_few_documents(args, tmp_path / "model", tmp_path)


def _train_on_a_few_documents(args: list[str], output, tmp_path) -> None:
    """Run a README ``reorder train`` command on the first few documents, into ``output``."""
    args[args.index("-o") + 1] = str(output)
    args += ["--limit", "6", "--dev-limit", "4", "--members", "1", "--cache", str(tmp_path / "cache.sqlite"), "-q"]
    completed = subprocess.run([sys.executable, "-m", "reorder", *args[1:]], cwd=REPO, env=ENV, capture_output=True,
                               text=True)
    assert completed.returncode == 0, completed.stderr
    meta = json.loads((output / "model.json").read_text(encoding="utf-8"))
    assert set(meta["objective"]) == {"follows", "precedes", "position"}
    assert CORPORA.is_dir()


# --- The fine-tuned reader ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.corpora
def test_reader_training_examples_run_in_order_on_a_few_documents(tmp_path):
    """The section's block is a script: every command runs in turn, with what it writes under
    experiments/models/ (and the shipped reader's directory) moved to a temporary folder, so that
    each reader is combined with the coherence model the block trained before it."""
    models = tmp_path / "models"
    models.mkdir()
    readers = 0
    for command in _commands(_block("The fine-tuned reader", "sh")):
        command = command.replace("experiments/models/", f"{models}/").replace("reorder/models/news-reader",
                                                                              f"{models}/news-reader")
        args = shlex.split(command)
        if args[0] == "awk":  # writes the records a coherence model trains on (those not tuned on)
            assert args[-2] == ">" and Path(args[-1]).parent == models
            completed = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, text=True)
            assert completed.returncode == 0 and Path(args[-1]).stat().st_size > 0, completed.stderr
            continue
        if args[:2] == ["reorder", "train"]:  # the coherence model a sentence-level reader is combined with
            _train_on_a_few_documents(args, Path(args[args.index("-o") + 1]), tmp_path)
            continue
        assert args[:2] == ["python", "experiments/train_reader.py"]
        readers += 1
        out = Path(args[args.index("-o") + 1])
        assert out.parent == models
        if "--model" not in args:  # the news model (mpnet): the faster MiniLM one stands in
            args += ["--model", str(REPO / "reorder" / "models" / "news-minilm")]
        args += ["--limit", "30", "--minutes", "0.05", "--every", "0.05", "--rank", "2", "--hidden", "16",
                 "--tune-docs", "3", "--max-units", "6", "--checkpoint", str(tmp_path / f"checkpoint{readers}.pt"),
                 "--results", str(tmp_path / "tuning"), "--cache", str(tmp_path / "cache.sqlite")]
        completed = subprocess.run([sys.executable, *args[1:]], cwd=REPO, env=ENV, capture_output=True, text=True)
        assert completed.returncode == 0, completed.stderr[-2000:]
        meta = json.loads((out / "reader.json").read_text(encoding="utf-8"))
        assert meta["combine"]["mix"]["model"] == 1.0 and meta["tuning"]["documents"] == 3
        dev = meta["tuning"]["records"].removesuffix(" even")  # the records tuned on are never trained on
        assert meta["training"]["left_out"] == (3 if dev in meta["training"]["corpora"] else 0)
        assert set(meta["objective"]) == {"follows", "precedes", "position"}
        table = json.loads((tmp_path / "tuning.json").read_text(encoding="utf-8"))["table"]
        tried = {"--reader-mix": {row["mix"]["reader"] for row in table},
                 "--position": {row["weights"]["position"] for row in table}}
        for option in set(tried) & set(args):  # the grid given is the grid searched
            given = itertools.takewhile(lambda a: not a.startswith("-"), args[args.index(option) + 1:])
            assert tried[option] == {float(v) for v in given}
        assert "| mix model |" in (tmp_path / "tuning.md").read_text(encoding="utf-8")
        assert isinstance(load_scorer(out)[0], CombinedScorer)  # the written directory is a model
    assert readers >= 1


# --- Headlines -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.corpora
@pytest.mark.parametrize("command", _commands(_block("Headlines", "sh")))
def test_headline_training_example_runs_on_a_few_documents(command, tmp_path):
    from reorder import HeadlineDetector

    args = shlex.split(command)
    assert args[:2] == ["python", "experiments/train_headline.py"]
    args += ["--limit", "20", "--sentences-limit", "5", "--embedder", "all-MiniLM-L6-v2",
             "-o", str(tmp_path / "headline"), "--results", str(tmp_path / "results")]
    completed = subprocess.run([sys.executable, *args[1:]], cwd=REPO, env=ENV, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert HeadlineDetector.load(tmp_path / "headline").meta["name"] == "headline-v1"
    assert "abc-dev titles found" in (tmp_path / "results.md").read_text(encoding="utf-8")


# --- Evaluation ------------------------------------------------------------------------------------


def _reproduce_scripts() -> list[str]:
    (command,) = _commands(_block("Evaluation", "sh"))
    script = REPO / shlex.split(command)[1]
    return sorted(set(re.findall(r"python (experiments/\w+\.py)", script.read_text(encoding="utf-8"))))


def test_reproduce_script_is_valid_bash():
    (command,) = _commands(_block("Evaluation", "sh"))
    args = shlex.split(command)
    assert args[0] == "bash"
    subprocess.run(["bash", "-n", str(REPO / args[1])], check=True)


@pytest.mark.parametrize("script", _reproduce_scripts())
def test_each_experiment_of_the_reproduction_answers_help(script):
    completed = subprocess.run([sys.executable, script, "--help"], cwd=REPO, env=ENV, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert "usage" in completed.stdout.lower()
