"""Bad input ends in one sentence and exit status 2, never a traceback, and writes nothing.

No server is needed: every case fails before a request would be sent (bench's URL is a closed
port on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specwise.cli import app

CLOSED = "http://127.0.0.1:9"

STUDY = """name: bad
target: smollm2
arms: [{name: baseline}]
workload: {generator: commerce}
"""


def one_sentence(result, code: int, fragment: str) -> None:
    text = result.output
    assert result.exit_code == code, text
    assert fragment in text, text
    assert "Traceback" not in text and text.strip().startswith("error:"), text


@pytest.fixture
def workload(tmp_path: Path) -> Path:
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps({"id": "q", "messages": [{"role": "user", "content": "hi"}]}) + "\n")
    return path


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--rate", "nan"], "rate must be a finite number > 0"),
        (["--rate", "-1"], "rate must be a finite number > 0"),
        (["--rate", "inf"], "rate must be a finite number > 0"),
        (["--duration", "-5"], "duration must be a finite number > 0"),
        (["--duration", "nan"], "duration must be a finite number > 0"),
        (["--temperature", "-3"], "--temperature must be a finite number >= 0"),
        (["--temperature", "nan"], "--temperature must be a finite number >= 0"),
        (["--slo-ttft-ms", "-1"], "--slo-ttft-ms must be a positive number"),
        (["--slo-tpot-ms", "0"], "--slo-tpot-ms must be a positive number"),
        (["--slo-tpot-ms", "inf"], "--slo-tpot-ms must be a positive number"),
        (["--extra", "[1]"], "--extra must be a JSON object"),
        (["--api", "grpc"], "--api 'grpc' is unknown"),
    ],
)
def test_bench_numbers_and_choices(tmp_path: Path, workload: Path, flags, fragment) -> None:
    out = tmp_path / "out"
    args = [
        "bench",
        "--url",
        CLOSED,
        "--model",
        "m",
        "--workload",
        str(workload),
        "--out",
        str(out),
    ]
    one_sentence(CliRunner().invoke(app, [*args, *flags]), 2, fragment)
    assert not out.exists()


@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        ("temperature: [.nan]", "field `temperature.0`: Input should be a finite number"),
        ("temperature: [.inf]", "field `temperature.0`: Input should be a finite number"),
        ("temperature: [-1]", "temperatures must be >= 0"),
        ("practical_margin: .nan", "field `practical_margin`: Input should be a finite number"),
        ("concurrency: [0]", "concurrency levels must be >= 1"),
    ],
)
def test_study_numbers_must_be_finite(tmp_path: Path, field: str, fragment: str) -> None:
    study = tmp_path / "s.yaml"
    study.write_text(STUDY + field + "\n")
    out = tmp_path / "runs"
    result = CliRunner().invoke(app, ["sweep", str(study), "--dry-run", "--out", str(out)])
    one_sentence(result, 2, fragment)
    assert not out.exists()
