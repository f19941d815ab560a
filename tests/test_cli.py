"""The command line: data on stdout, messages on stderr, exit codes 0 / 1 (library errors) / 2 (usage).

Fast tests run in-process (``cli`` fixture: the tiny model and the stand-in embedder); the slow
ones run the real model, once through a subprocess, end to end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter

import pytest

from reorder.document import split

from conftest import BUDGET_ARTICLE, REPO, SEED_TEXT

TEXT = BUDGET_ARTICLE


def paragraphs(text: str) -> Counter:
    return Counter(split(text).units)


@pytest.fixture
def article(tmp_path):
    path = tmp_path / "article.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def one_line_error(result, code: int = 1) -> str:
    """The single stderr line of a failed run (asserting that it is one line)."""
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_order_prints_every_paragraph_once_on_stdout(cli, article):
    result = cli("order", article)
    assert result.exit_code == 0, result.output
    assert paragraphs(result.stdout) == paragraphs(TEXT)
    assert result.stdout.startswith("Budget approved after long debate\n\n")  # the heading stays first
    assert result.stdout.splitlines()[4] == "Share"  # furniture keeps its slot
    assert result.stderr == ""


def test_order_uses_the_default_embedder_unless_told(cli, article, stand_in_by_name):
    cli("order", article)
    cli("order", article, "--embedder", "some/model")
    assert stand_in_by_name == [None, "some/model"]


def test_json_output(cli, article):
    result = cli("order", article, "--format", "json", "--seed", "3")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"permutation", "units", "objective", "optimal", "bound", "method", "signature"}
    assert sorted(payload["permutation"]) == list(range(6))
    assert [u["index"] for u in payload["units"]] == list(range(6))
    assert [u["text"] for u in payload["units"]] == list(split(TEXT).units)
    assert [u["role"] for u in payload["units"]] == ["heading"] + ["content"] + ["furniture"] + ["content"] * 3
    assert payload["optimal"] is True and payload["method"] == "dp"
    assert isinstance(payload["objective"], float)
    assert "model:tiny" in payload["signature"] and "seed:3" in payload["signature"]
    assert result.stderr == ""


def test_output_file(cli, article, tmp_path):
    out = tmp_path / "out.txt"
    result = cli("order", article, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8") == cli("order", article).stdout
    assert paragraphs(out.read_text(encoding="utf-8")) == paragraphs(TEXT)


def test_output_dash_is_stdout(cli, article):
    assert cli("order", article, "-o", "-").stdout == cli("order", article).stdout


def test_in_place_with_backup(cli, article, tmp_path):
    expected = cli("order", article).stdout
    original = article.read_bytes()
    result = cli("order", article, "--in-place", "--backup", ".bak")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert article.read_text(encoding="utf-8") == expected
    assert paragraphs(article.read_text(encoding="utf-8")) == paragraphs(TEXT)
    assert (tmp_path / "article.txt.bak").read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["article.txt", "article.txt.bak"]  # no temp file left


def test_in_place_without_backup_keeps_the_file_mode(cli, article, tmp_path):
    os.chmod(article, 0o640)
    assert cli("order", article, "--in-place").exit_code == 0
    assert paragraphs(article.read_text(encoding="utf-8")) == paragraphs(TEXT)
    assert (os.stat(article).st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["article.txt"]


def test_in_place_failure_leaves_the_original_whole(cli, article, tmp_path, monkeypatch):
    import reorder.files

    def fail(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    original = article.read_bytes()
    monkeypatch.setattr(reorder.files.os, "replace", fail)
    line = one_line_error(cli("order", article, "--in-place"))
    assert "No space left on device" in line
    assert article.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["article.txt"]  # the temporary file is removed


def test_dash_reads_stdin(cli, article):
    result = cli("order", "-", input=TEXT.encode("utf-8"))
    assert result.exit_code == 0, result.output
    assert result.stdout == cli("order", article).stdout


@pytest.mark.parametrize("unit", ["line", "sentence"])
def test_other_units(cli, tmp_path, unit):
    text = "First sentence here. Second one follows! A third?\nA new line.\n\nLast paragraph, last sentence.\n"
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    result = cli("order", path, "--unit", unit, "--all-content")
    assert result.exit_code == 0, result.output
    assert Counter(split(result.stdout, unit).units) == Counter(split(text, unit).units)


def test_all_content_and_furniture_drop(cli, article):
    roles = [u["role"] for u in json.loads(cli("order", article, "--all-content", "--format", "json").stdout)["units"]]
    assert roles == ["content"] * 6
    dropped = cli("order", article, "--furniture", "drop").stdout
    assert "Share" not in split(dropped).units
    assert paragraphs(dropped) == paragraphs(TEXT) - Counter(["Share"])


@pytest.mark.parametrize(
    "args",
    [
        ["--backup", ".bak"],  # --backup without --in-place
        ["--in-place", "--format", "json"],
        ["--in-place", "-o", "x.txt"],
        ["--no-such-option"],
        ["--search", "fastest"],
        ["--time-limit", "0"],
        ["--unit", "word"],
    ],
)
def test_usage_errors_exit_2(cli, article, args):
    result = cli("order", article, *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Error:" in result.stderr


def test_in_place_on_stdin_is_a_usage_error(cli):
    result = cli("order", "-", "--in-place", input=b"a\n\nb\n")
    assert result.exit_code == 2
    assert "--in-place needs a FILE" in result.stderr


def test_missing_argument_and_unknown_command_exit_2(cli):
    assert cli("order").exit_code == 2
    assert cli("shuffle").exit_code == 2


def test_a_missing_model_is_a_one_line_error(cli, article, tmp_path):
    line = one_line_error(cli("order", article, "--model", tmp_path / "nowhere"))
    assert "is not a reorder model directory" in line


def test_a_corrupted_model_is_a_one_line_error(cli, article, tiny_model_dir, tmp_path):
    broken = shutil.copytree(tiny_model_dir, tmp_path / "broken")
    (broken / "weights.npz").write_bytes(b"PK\x03\x04 not really a zip")
    line = one_line_error(cli("order", article, "--model", broken))
    assert "corrupted or truncated weights" in line


def test_a_model_for_another_embedder_is_a_one_line_error(cli, article, tiny_model_dir, tmp_path):
    other = shutil.copytree(tiny_model_dir, tmp_path / "other")
    meta = json.loads((other / "model.json").read_text(encoding="utf-8"))
    meta["embedder"] = "all-MiniLM-L6-v2"
    (other / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    line = one_line_error(cli("order", article, "--model", other))
    assert "'all-MiniLM-L6-v2'" in line and "test-hashing-384" in line and "--embedder" in line


def test_similarity_model(cli, article):
    result = cli("order", article, "--model", "similarity")
    assert result.exit_code == 0, result.output
    assert paragraphs(result.stdout) == paragraphs(TEXT)


def test_quiet_and_verbose(cli, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert "nothing to reorder" in cli("order", empty).stderr
    assert cli("order", empty, "-q").stderr == ""


def test_version_and_help(cli):
    from reorder import __version__

    result = cli("--version")
    assert result.exit_code == 0 and __version__ in result.stdout
    assert cli("order", "--help").exit_code == 0


def test_evaluate_reports_metrics(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("REORDER_CACHE", str(tmp_path / "cache.sqlite"))
    corpus = tmp_path / "corpus.jsonl"
    docs = [{"id": f"d{k}", "paragraphs": [f"Doc {k} part {i} about thing {i * k}." for i in range(3 + k)]}
            for k in range(4)]
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    result = cli("evaluate", corpus, "--method", "input,similarity,full", "--format", "json", "-q")
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert [r["method"] for r in reports] == ["input", "similarity", "full"]
    for report in reports:
        assert report["overall"]["docs"] == 4
        assert -1.0 <= report["overall"]["tau"] <= 1.0
    assert "model:tiny" in reports[2]["signature"]
    bad = cli("evaluate", corpus, "--method", "magic")
    assert bad.exit_code == 2 and "unknown method 'magic'" in bad.stderr


def test_evaluate_refuses_a_broken_corpus_in_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("REORDER_CACHE", str(tmp_path / "cache.sqlite"))
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"paragraphs": ["a", "b"]}\n{not json\n', encoding="utf-8")
    line = one_line_error(cli("evaluate", corpus, "--method", "input", "-q"))
    assert "corpus.jsonl:2: not valid JSON" in line


@pytest.mark.filterwarnings("ignore:Got `batch_size`")
def test_train_writes_a_model_that_order_can_use(cli, tmp_path, monkeypatch, stand_in):
    import reorder.training

    monkeypatch.setattr(reorder.training, "load_embedder", lambda model=None, **kw: stand_in)
    corpus = tmp_path / "train.jsonl"
    docs = [{"paragraphs": [f"Story {k} begins with event {i} and word{(i + k) % 5}." for i in range(4)]}
            for k in range(40)]
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    out = tmp_path / "trained"
    result = cli("train", corpus, "-o", out, "--hidden", "4", "--members", "2", "--cache", tmp_path / "c.sqlite", "-q")
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"model.json", "weights.npz"}
    assert json.loads((out / "model.json").read_text(encoding="utf-8"))["params"]["n_members"] == 2
    path = tmp_path / "t.txt"
    path.write_text(TEXT, encoding="utf-8")
    ordered = cli("order", path, "--model", out)
    assert ordered.exit_code == 0, ordered.output
    assert paragraphs(ordered.stdout) == paragraphs(TEXT)


# --- the real model, end to end --------------------------------------------------------------------


@pytest.mark.slow
def test_real_cli_end_to_end_on_the_seed(tmp_path):
    """The installed entry point, the shipped model and its embedder, in a fresh process."""
    env = {**os.environ, "REORDER_CACHE": str(tmp_path / "cache.sqlite")}
    proc = subprocess.run(
        [sys.executable, "-m", "reorder", "order", str(SEED_TEXT)],
        capture_output=True, cwd=REPO, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode("utf-8")
    seed = SEED_TEXT.read_text(encoding="utf-8")
    assert paragraphs(out) == paragraphs(seed)
    assert len(proc.stdout) == len(seed.encode("utf-8"))
    assert b"Traceback" not in proc.stderr
    assert not any(unit.encode("utf-8") in proc.stderr for unit in split(seed).units if len(unit) > 20)
    body = [u for u in split(out).units if u not in ("Share", "Advertisement")]
    assert body[0].startswith("Moscow says")


@pytest.mark.slow
def test_real_cli_json_is_deterministic(cli, real_reorderer, monkeypatch):
    """In-process, sharing the session's embedder: two runs give the same bytes."""
    import reorder.pipeline

    monkeypatch.setattr(reorder.pipeline, "load_embedder",
                        lambda model=None, **kw: real_reorderer.embedder_)
    default_model = str(reorder.pipeline.DEFAULT_MODEL_DIR)
    first = cli("order", SEED_TEXT, "--format", "json", "--model", default_model)
    second = cli("order", SEED_TEXT, "--format", "json", "--model", default_model)
    assert first.exit_code == 0, first.output
    assert first.stdout_bytes == second.stdout_bytes
    payload = json.loads(first.stdout)
    assert sorted(payload["permutation"]) == list(range(len(payload["units"])))
    assert "model:news|embedder:all-mpnet-base-v2" in payload["signature"]


def _batch_corpus(tmp_path):
    corpus = tmp_path / "batch.jsonl"
    docs = [{"id": f"d{k}", "paragraphs": [f"Item {k} says point {i} about topic{(i * k) % 3}." for i in range(2 + k)]}
            for k in range(4)]
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs) + "\n", encoding="utf-8")
    return corpus, docs


def test_batch_orders_every_document_as_jsonl(cli, tmp_path):
    corpus, docs = _batch_corpus(tmp_path)
    result = cli("batch", corpus, "-q")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == [d["id"] for d in docs]
    for line, doc in zip(lines, docs):
        assert sorted(line["permutation"]) == list(range(len(doc["paragraphs"])))
        assert line["optimal"] is True and line["method"] in ("dp", "trivial")
    # every line carries the signature `reorder order` gives for the same options
    order_signature = json.loads(cli("order", corpus, "--format", "json", "-q").stdout)["signature"]
    assert {line["signature"] for line in lines} == {order_signature}
    out = tmp_path / "out.jsonl"
    assert cli("batch", corpus, "-o", out, "-q").exit_code == 0
    assert out.read_text(encoding="utf-8") == result.stdout
    assert cli("batch", "-", "-q", input=corpus.read_text(encoding="utf-8")).stdout == result.stdout


def test_batch_strict_stops_at_the_first_bad_record_in_one_line(cli, tmp_path):
    corpus = tmp_path / "bad.jsonl"
    corpus.write_text('{"paragraphs": ["a", "b"]}\n{"paragraphs": 3}\n{"paragraphs": ["c", "d"]}\n', encoding="utf-8")
    result = cli("batch", corpus, "--strict", "-q")
    assert result.exit_code == 1
    # Streaming: the documents before the bad line are already out, whole.
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [1]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "line 2: expected an object with a list of strings" in lines[0]


def test_order_extras_embed_each_unit_once(cli, stand_in_by_name, stand_in, monkeypatch, tmp_path):
    """--alternatives, --confidence and --explain reuse the run's embeddings: one encode call."""
    import reorder.pipeline

    from conftest import BUDGET_ARTICLE, CountingEmbedder

    counting = CountingEmbedder(stand_in)
    monkeypatch.setattr(reorder.pipeline, "load_embedder", lambda model=None, **kw: counting)
    article = tmp_path / "article.txt"
    article.write_text(BUDGET_ARTICLE, encoding="utf-8")
    result = cli("order", article, "--format", "json", "--alternatives", "2", "--confidence", "--explain")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    content = [u["text"] for u in payload["units"] if u["role"] == "content"]
    assert len(counting.calls) == 1 and sorted(counting.texts) == sorted(content)
    assert {"alternatives", "confidence", "explanations"} <= set(payload)


@pytest.mark.slow
def test_batch_workers_give_the_same_results_as_one_process(tmp_path):
    """Two worker processes (each loading the real models once) give the orders one process gives.

    The objective values agree to float rounding only: each worker runs torch on fewer threads, which
    sums the embeddings' dot products in another order (differences of about 1e-6).
    """
    from reorder.batch import partitions, run_local

    corpus, _ = _batch_corpus(tmp_path)
    params = {"model": None, "embedder": None, "method": "auto", "time_limit": 1.0, "seed": 0, "cache": None}

    def run(workers):
        return [r for _, results in run_local(partitions([str(corpus)], 2), params, workers=workers) for r in results]

    two, one = run(2), run(1)
    assert [(r["id"], r["permutation"], r["optimal"], r["method"]) for r in two] == \
        [(r["id"], r["permutation"], r["optimal"], r["method"]) for r in one]
    assert [r["objective"] for r in two] == pytest.approx([r["objective"] for r in one], rel=1e-5, abs=1e-5)


def test_weights_reach_the_objective_and_the_signature(cli, article):
    def run(weights):
        result = cli("order", article, "--format", "json", "--weights", weights)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    single, double = run("0,1,1"), run("0,2,2")
    assert "weights:f0+p1+pos1" in single["signature"] and "weights:f0+p2+pos2" in double["signature"]
    # scaling every weight scales the objective and leaves the best order unchanged
    assert double["objective"] == pytest.approx(2 * single["objective"])
    assert double["permutation"] == single["permutation"]
    assert run("1,0,0")["objective"] != pytest.approx(single["objective"])


def test_evaluate_applies_weights_to_the_full_objective_only(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("REORDER_CACHE", str(tmp_path / "cache.sqlite"))
    corpus = tmp_path / "corpus.jsonl"
    docs = [{"id": f"d{k}", "paragraphs": [f"Doc {k} part {i} about thing {i * k}." for i in range(4)]}
            for k in range(3)]
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    result = cli("evaluate", corpus, "--method", "follows,full", "--weights", "0.5,1,0", "--format", "json", "-q")
    assert result.exit_code == 0, result.output
    follows, full = json.loads(result.stdout)
    assert "weights:f1+p0+pos0" in follows["signature"] and "weights:f0.5+p1+pos0" in full["signature"]


@pytest.mark.parametrize("weights", ["1,2", "a,b,c", "-1,1,1", "0,0,0", "1,nan,1"])
def test_bad_weights_are_refused_with_the_option_named(cli, article, weights):
    result = cli("order", article, "--weights", weights)
    assert result.exit_code == 2 and "--weights" in result.stderr and "three numbers" in result.stderr


def test_evaluate_with_title_adds_each_title_as_a_shuffled_unit(cli, tmp_path):
    corpus = tmp_path / "titled.jsonl"
    docs = [{"id": "t1", "title": "Council approves budget", "paragraphs": ["The council met.", "It voted.", "Done."]},
            {"id": "t2", "paragraphs": ["No title here.", "Second part.", "Third part."]}]
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    plain = json.loads(cli("evaluate", corpus, "--format", "json", "--per-document", "-q").stdout)
    titled = json.loads(cli("evaluate", corpus, "--format", "json", "--per-document", "--with-title", "-q").stdout)
    assert [d["n"] for d in plain["documents"]] == [3, 3]
    assert [d["n"] for d in titled["documents"]] == [4, 3]  # the untitled document is evaluated as it is
    assert titled["titled"] == 1 and titled["title_first"] in (0.0, 1.0) and "titled" not in plain
    assert titled["title_first"] == float(titled["documents"][0]["predicted"][0] == 0)
    assert titled["signature"].endswith("|with-title") and not plain["signature"].endswith("|with-title")


def test_all_content_is_an_option_of_every_scoring_command_and_batch_names_the_heading(cli, tmp_path):
    corpus, docs = _batch_corpus(tmp_path)
    on = [json.loads(line) for line in cli("batch", corpus, "-q").stdout.splitlines()]
    off = [json.loads(line) for line in cli("batch", corpus, "--all-content", "-q").stdout.splitlines()]
    assert len(on) == len(docs)
    for line in on:
        assert line["heading"] is None or line["permutation"][0] == line["heading"]
        assert "|roles:headline-v1|" in line["signature"]
    assert all(line["heading"] is None and "|roles:none|" in line["signature"] for line in off)
    report = json.loads(cli("evaluate", corpus, "--format", "json", "--all-content", "-q").stdout)
    assert "|roles:none|" in report["signature"]
    text = tmp_path / "a.txt"
    text.write_text("Budget approved\n\nThe council met.\n\nIt voted.\n", encoding="utf-8")
    units = json.loads(cli("order", text, "--format", "json", "--all-content", "-q").stdout)["units"]
    assert [u["role"] for u in units] == ["content"] * 3
    scored = json.loads(cli("score", text, "--format", "json", "--all-content", "-q").stdout)
    assert [u["role"] for u in scored["units"]] == ["content"] * 3
