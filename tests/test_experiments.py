"""Experiments that are not part of the README's reproduction but keep state across runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import CORPORA, REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.mark.slow
@pytest.mark.corpora
@pytest.mark.parametrize("design", ["bi", "lora"])
def test_learning_curve_checkpoints_and_resumes_where_it_stopped(tmp_path, design):
    out = tmp_path / "curve"
    command = [sys.executable, "experiments/learning_curve.py", str(CORPORA), "--design", design, "--dev-docs", "2",
               "--window", "4", "--eval-every", "0.1", "--threads", "1", "--out", str(out)]

    def run(minutes: float) -> list[dict]:
        completed = subprocess.run([*command, "--minutes", str(minutes)], cwd=REPO, env=ENV, capture_output=True,
                                   text=True)
        assert completed.returncode == 0, completed.stderr[-2000:]
        return [json.loads(line) for line in (out / "curve.jsonl").read_text(encoding="utf-8").splitlines()]

    first = run(0.1)
    assert first[0]["step"] == 0 and first[-1]["step"] > 0 and (out / "checkpoint.pt").is_file()
    second = run(0.2)  # the same run, longer: it resumes instead of starting again
    assert second[: len(first)] == first and second[-1]["step"] > first[-1]["step"]
    assert second[-1]["cpu_min"] >= 0.2 and all(0 <= p["pair_accuracy"] <= 1 for p in second)
    assert "| CPU min |" in (out / "curve.md").read_text(encoding="utf-8")
    if design == "lora":  # the run's reader, saved as the shipped one is
        assert {p.name for p in (out / "reader").iterdir()} == {"reader.json", "reader.safetensors"}
