"""A short Atheris run of tests/fuzz/fuzz_parsers.py in `make test`: a fixed number of inputs
(libFuzzer seed 1, so the same inputs on every run), from a corpus of valid bundles, envelopes,
replies and a manifest made in a temporary folder. Any exception other than ProtocolError is a
crash: libFuzzer saves the input and exits non-zero, and this test fails showing both.

`QUIETLINE_FUZZ_RUNS` changes the number of inputs; `make fuzz` runs for minutes instead.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

TARGET = Path(__file__).with_name("fuzz_parsers.py")
RUNS = int(os.environ.get("QUIETLINE_FUZZ_RUNS", "400000"))
MAX_SECONDS = 90  # a cap for a slow machine; the run normally ends at RUNS well before


def test_fuzz_target_finds_no_crash(tmp_path):
    corpus, findings = tmp_path / "corpus", tmp_path / "findings"
    findings.mkdir()
    made = subprocess.run([sys.executable, str(TARGET), "--write-corpus", str(corpus)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert len(list(corpus.iterdir())) >= 9

    run = subprocess.run(
        [sys.executable, str(TARGET), str(corpus), "-seed=1", f"-runs={RUNS}", f"-max_total_time={MAX_SECONDS}",
         "-max_len=4096", "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1",
         f"-artifact_prefix={findings}/"],
        capture_output=True, text=True, cwd=tmp_path, timeout=MAX_SECONDS + 60,
    )
    output = run.stdout + run.stderr
    crashes = sorted(findings.iterdir())
    shown = "\n".join(f"{p.name}: {p.read_bytes()[:300]!r}" for p in crashes)
    assert run.returncode == 0 and not crashes, f"fuzzing found a crash (exit {run.returncode}):\n{shown}\n{output[-6000:]}"

    done = re.search(r"stat::number_of_executed_units:\s*(\d+)", output)
    assert done, output[-3000:]
    # It really fuzzed: at least half the inputs ran even if the time cap cut it short.
    assert int(done.group(1)) >= RUNS // 2, output[-3000:]
    assert "INFO: Instrumenting crypto.bundle" in output and "INFO: Instrumenting crypto.envelope" in output
