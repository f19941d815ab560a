"""reorder batch: bad records reported and skipped, both engines agree, inputs of every kind, resuming."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, STORIES, CountingEmbedder

GOOD = [json.loads(line) for line in STORIES.read_text(encoding="utf-8").splitlines()[:12]]


def _write(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def _lines(text):
    return [json.loads(line) for line in text.splitlines()]


BAD = [
    ("{not json", "not valid JSON"),
    ('{"id": "no-units", "text": "a"}', "expected an object with a list of strings"),
    ('{"id": "number", "paragraphs": ["a", 3]}', "expected an object with a list of strings"),
    ('{"id": "empty", "paragraphs": []}', "the document has no units"),
    ('["a", "b"]', "expected a JSON object"),
]


def test_every_good_record_is_ordered_and_every_bad_one_reported(cli, tmp_path):
    records = []
    for k, doc in enumerate(GOOD[:5]):
        records += [{"id": doc["id"], "paragraphs": doc["paragraphs"]}, BAD[k][0]]
    corpus = _write(tmp_path / "mixed.jsonl", records)
    result = cli("batch", corpus, "-q", "--partition-size", "3")
    assert result.exit_code == 1
    out = _lines(result.stdout)
    assert len(out) == 10
    good = [r for r in out if "error" not in r]
    assert [r["id"] for r in good] == [d["id"] for d in GOOD[:5]]
    for r, doc in zip(good, GOOD):
        assert sorted(r["permutation"]) == list(range(len(doc["paragraphs"]))) and r["signature"]
    errors = [r for r in out if "error" in r]
    assert [r["line"] for r in errors] == [2, 4, 6, 8, 10]
    for r, (_, reason) in zip(errors, BAD):
        assert r["source"] == str(corpus) and reason in r["error"] and r["error"].startswith(f"line {r['line']}: ")
    assert "5 documents ordered, 5 errors" in result.stderr
    assert "--strict" in result.stderr.strip().splitlines()[-1]


def test_inputs_may_be_several_files_globs_and_gzip(cli, tmp_path):
    _write(tmp_path / "a.jsonl", GOOD[:3])
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(d) + "\n" for d in GOOD[3:6]))
    _write(tmp_path / "c.jsonl", GOOD[6:8])
    result = cli("batch", tmp_path / "a.jsonl", str(tmp_path / "*.gz"), tmp_path / "c.jsonl", "-q")
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in _lines(result.stdout)] == [d["id"] for d in GOOD[:8]]
    assert cli("batch", str(tmp_path / "*.nothing"), "-q").exit_code == 1


def test_units_of_a_partition_are_embedded_in_one_call(cli, stand_in, monkeypatch, tmp_path):
    import reorder.pipeline

    counting = CountingEmbedder(stand_in)
    monkeypatch.setattr(reorder.pipeline, "load_embedder", lambda model=None, **kw: counting)
    corpus = _write(tmp_path / "docs.jsonl", GOOD[:10])
    assert cli("batch", corpus, "-q", "--partition-size", "4").exit_code == 0
    assert len(counting.calls) == 3  # 10 documents in partitions of 4, 4 and 2
    assert sorted(counting.texts) == sorted({p for d in GOOD[:10] for p in d["paragraphs"]})


class Killed(BaseException):
    """Stands for the process being killed: nothing in reorder or click catches it."""


def test_output_dir_holds_parts_and_a_manifest_and_resumes_after_a_kill(cli, tmp_path, monkeypatch, tiny_model_dir):
    import reorder.batch

    corpus = _write(tmp_path / "docs.jsonl", GOOD)
    whole = cli("batch", corpus, "-q", "--partition-size", "5")
    assert whole.exit_code == 0, whole.output

    out = tmp_path / "out"
    original, calls = reorder.batch.order_partition, []

    def dies_on_the_second(reorderer, partition):
        calls.append(partition.key)
        if len(calls) == 2:
            raise Killed  # the run is killed while it works on the second partition
        return original(reorderer, partition)

    monkeypatch.setattr(reorder.batch, "order_partition", dies_on_the_second)
    with pytest.raises(Killed):
        from click.testing import CliRunner

        from reorder.cli import main

        CliRunner().invoke(main, ["batch", str(corpus), "--output-dir", str(out), "--partition-size", "5", "-q",
                                  "--model", str(tiny_model_dir)], catch_exceptions=False)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert list(manifest["parts"]) == ["00000-000000"] and "complete" not in manifest
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "part-00000-000000.jsonl"]  # no half part

    calls.clear()
    monkeypatch.setattr(reorder.batch, "order_partition", lambda r, p: calls.append(p.key) or original(r, p))
    rerun = cli("batch", corpus, "--output-dir", out, "--partition-size", "5", "-q")
    assert rerun.exit_code == 0, rerun.output
    assert calls == ["00000-000001", "00000-000002"]  # the finished part is not redone
    assert "1 already complete" in rerun.stderr
    parts = "".join((out / f"part-00000-00000{k}.jsonl").read_text(encoding="utf-8") for k in range(3))
    assert parts == whole.stdout
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] and manifest["counts"] == {"records": 12, "errors": 0}
    # another run's options are refused rather than mixed into the same directory
    assert cli("batch", corpus, "--output-dir", out, "--partition-size", "4", "-q").exit_code == 1
    # a part whose input lines changed since it was written is done again, the others are not
    edited = [*GOOD[:5], {**GOOD[5], "id": "edited"}, *GOOD[6:]]
    _write(corpus, edited)
    calls.clear()
    assert cli("batch", corpus, "--output-dir", out, "--partition-size", "5", "-q").exit_code == 0
    assert calls == ["00000-000001"]
    assert '"id": "edited"' in (out / "part-00000-000001.jsonl").read_text(encoding="utf-8")


@pytest.fixture
def threaded_cluster(monkeypatch):
    """The Dask LocalCluster with worker threads in this process, so the stand-in embedder reaches it."""
    distributed = pytest.importorskip("distributed")
    import reorder.distributed

    monkeypatch.setattr(reorder.distributed, "local_cluster", lambda workers, quiet=True: distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=":0"))


def test_dask_engine_gives_the_local_engines_output(cli, tmp_path, threaded_cluster):
    records = [*GOOD, BAD[0][0]]
    corpus = _write(tmp_path / "docs.jsonl", records)
    local = cli("batch", corpus, "-q", "--partition-size", "3")
    dask = cli("batch", corpus, "-q", "--partition-size", "3", "--engine", "dask", "--workers", "2")
    assert local.exit_code == dask.exit_code == 1  # the bad record, reported by both
    assert dask.stdout == local.stdout and len(_lines(dask.stdout)) == len(records)
    out = tmp_path / "parts"
    assert cli("batch", corpus, "--output-dir", out, "--partition-size", "3", "--engine", "dask",
               "--workers", "2", "-q").exit_code == 1
    parts = "".join(p.read_text(encoding="utf-8") for p in sorted(out.glob("part-*.jsonl")))
    assert parts == local.stdout
    # workers write pending parts; only those the client records as complete get their names
    strict = tmp_path / "strict"
    mixed = _write(tmp_path / "mixed.jsonl", [*GOOD[:3], BAD[0][0], *GOOD[3:9]])
    assert cli("batch", mixed, "--output-dir", strict, "--partition-size", "3", "--engine", "dask",
               "--workers", "2", "--strict", "-q").exit_code == 1
    manifest = json.loads((strict / "manifest.json").read_text(encoding="utf-8"))
    assert list(manifest["parts"]) == ["00000-000000"]
    assert [p.name for p in strict.glob("part-*.jsonl")] == ["part-00000-000000.jsonl"]


@pytest.mark.slow
def test_dask_worker_processes_with_the_real_model_agree_with_one_process(tmp_path, real_reorderer):
    """Two Dask worker processes, each loading the shipped models once through the worker plugin.

    Orders agree exactly; objective values to float rounding (torch sums in another order with
    another number of threads).
    """
    pytest.importorskip("distributed")
    from reorder.batch import partitions, run_local
    from reorder.distributed import run_dask

    corpus = _write(tmp_path / "docs.jsonl", GOOD[:6])
    params = {"model": None, "embedder": None, "method": "auto", "time_limit": 1.0, "seed": 0, "cache": None}
    dask = [r for _, results, _ in run_dask(partitions([str(corpus)], 2), params, workers=2) for r in results]
    local = [r for _, results in run_local(partitions([str(corpus)], 2), params, reorderer=real_reorderer)
             for r in results]
    assert [(r["id"], r["permutation"], r["signature"]) for r in dask] == \
        [(r["id"], r["permutation"], r["signature"]) for r in local]
    assert [r["objective"] for r in dask] == pytest.approx([r["objective"] for r in local], rel=1e-5, abs=1e-5)


def test_the_dask_engine_without_dask_says_how_to_get_it(cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask.distributed were not installed
    corpus = _write(tmp_path / "docs.jsonl", GOOD[:2])
    result = cli("batch", corpus, "--engine", "dask", "-q")
    assert result.exit_code == 1
    assert 'pip install "reorder[dask]"' in result.stderr and "Traceback" not in result.stderr


def test_a_line_of_invalid_utf8_is_one_error_record(cli, tmp_path):
    corpus = tmp_path / "bytes.jsonl"
    good = json.dumps(GOOD[0]).encode("utf-8")
    corpus.write_bytes(good + b"\n" + b'{"paragraphs": ["caf\xe9"]}\n' + good + b"\n")
    result = cli("batch", corpus, "-q")
    assert result.exit_code == 1
    out = _lines(result.stdout)
    assert ["error" in r for r in out] == [False, True, False]
    assert out[1]["line"] == 2 and "not valid UTF-8 (byte 0xe9)" in out[1]["error"]


def test_a_shrunk_input_drops_the_parts_it_no_longer_has(cli, tmp_path):
    corpus = _write(tmp_path / "docs.jsonl", GOOD[:6])
    out = tmp_path / "out"
    assert cli("batch", corpus, "--output-dir", out, "--partition-size", "2", "-q").exit_code == 0
    _write(corpus, GOOD[:2])
    assert cli("batch", corpus, "--output-dir", out, "--partition-size", "2", "-q").exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert list(manifest["parts"]) == ["00000-000000"] and manifest["counts"]["records"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "part-00000-000000.jsonl"]


def test_strict_with_an_output_dir_records_only_the_parts_before_the_bad_record(cli, tmp_path):
    corpus = _write(tmp_path / "docs.jsonl", [*GOOD[:4], BAD[0][0], *GOOD[4:6]])
    out = tmp_path / "out"
    result = cli("batch", corpus, "--output-dir", out, "--partition-size", "2", "--strict", "-q")
    assert result.exit_code == 1 and "line 5: not valid JSON" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert list(manifest["parts"]) == ["00000-000000", "00000-000001"] and "complete" not in manifest
    assert sorted(p.name for p in out.glob("part-*.jsonl")) == ["part-00000-000000.jsonl", "part-00000-000001.jsonl"]


def test_stdin_can_be_read_once_and_stays_open(cli, tmp_path):
    text = "".join(json.dumps(d) + "\n" for d in GOOD[:3])
    result = cli("batch", "-", "-q", input=text)
    assert result.exit_code == 0 and [r["id"] for r in _lines(result.stdout)] == [d["id"] for d in GOOD[:3]]
    assert cli("batch", "-", "-", "-q", input=text).exit_code == 1


@pytest.mark.slow
def test_the_dask_engine_shuts_down_without_errors_on_stderr(tmp_path):
    """Worker processes used to report "Failed to communicate with scheduler during heartbeat" with two
    tracebacks at shutdown (2 runs in 13): a normal run, repeated, prints nothing on stderr but its summary."""
    pytest.importorskip("distributed")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(record) + "\n" for record in GOOD), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    outputs = set()
    for _ in range(4):
        done = subprocess.run([sys.executable, "-m", "reorder", "batch", str(corpus), "--engine", "dask", "--workers",
                               "2", "--partition-size", "2", "--model", "news-minilm"],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr
        for noise in ("ERROR", "Traceback", "Failed"):
            assert noise not in done.stderr, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1 and len(_lines(outputs.pop())) == len(GOOD)
