"""Every ```python block of the README, saved as a script and run as a new user would: with none
of the test suite's quieting variables, so TensorFlow's start-up lines would show."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), re.S | re.M)
# C++ start-up lines of TensorFlow/XLA (absl, oneDNN, CPU features) and unclean shutdowns
NOISE = re.compile(r".*(absl::InitializeLog|oneDNN|cpu_feature_guard|This TensorFlow binary|"
                   r"Traceback|still alive|Exception ignored).*")
QUIETING = ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY", "PYTHONWARNINGS")  # see tests/conftest.py


def test_the_readme_has_python_snippets():
    assert len(SNIPPETS) >= 1


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_a_readme_snippet_runs_as_a_script_without_start_up_noise(index, tmp_path):
    script = tmp_path / f"snippet_{index}.py"
    script.write_text(SNIPPETS[index])
    env = {k: v for k, v in os.environ.items() if k not in QUIETING}
    env["PYTHONPATH"] = str(ROOT)  # this checkout, as `pip install -e .` gives
    proc = subprocess.run([sys.executable, script.name], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    noise = NOISE.search(proc.stdout + proc.stderr)
    assert noise is None, noise.group(0)
    if "print(result.summary())" in SNIPPETS[index]:
        assert re.search(r"best architecture: .*\n  metric \S+ \+- \S+ over 2 trials", proc.stdout)
