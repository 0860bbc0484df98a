"""What `ccemu serve` imports before it is ready: every module there is start-up time that a CI
fixture pays on every run, so the heavy ones a door needs only on its first request stay out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def test_server_import_leaves_botocore_to_the_first_api_request() -> None:
    # The API door (botocore's models and every service's handlers) is loaded in the background
    # once the listeners are up; signature checks and git passwords do not pull it in earlier.
    loaded = _modules_after("import emulator.server")
    assert not {m for m in loaded if m == "botocore" or m.startswith("botocore.")}
    assert "emulator.api.endpoint" not in loaded
