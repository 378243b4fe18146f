"""Every text model loads and runs with no network at all."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

SCRIPT = """
import socket
try:
    socket.create_connection(("pypi.org", 443), timeout=3)
    raise SystemExit("the network is reachable; the test proves nothing")
except OSError:
    pass
from pathlib import Path
from veedel.text import TextAnalyzer, TextSettings
for detector in ("lingua", "py3langid"):
    settings = TextSettings(
        language_detector=detector, label_model_path=Path("/nonexistent.npz")
    )
    result = TextAnalyzer(settings).analyze(
        "Angela Merkel besuchte gestern die Siemens AG in München."
    )
    assert result.language == "de", result
    assert "PER:Angela Merkel" in result.entity_keys(), result
    assert result.label is not None, result
print("offline ok")
"""


@pytest.mark.slow
def test_all_models_work_in_a_network_namespace_without_network() -> None:
    """lingua, py3langid, HanTa, spaCy, the NER model and the encoder: no download."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-n", "true"]).returncode != 0:
        pytest.skip("cannot create a network namespace here (unshare -n)")
    result = subprocess.run(
        [unshare, "-n", sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "offline ok" in result.stdout
