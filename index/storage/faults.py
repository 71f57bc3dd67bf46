"""The crash-test hook of the build, and nothing else.

SHIRABE_FAULT=<point> makes the build SIGKILL itself at that point, so the crash tests stop it
at exact places instead of guessing with timers (tests/test_faults_crash.py).
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "SHIRABE_FAULT"
FAULT_POINTS = (
    "after_scan",  # the corpus was listed and hashed, nothing written yet
    "mid_tokenize",  # the first batch of changed documents is stored (uncommitted)
    "before_publish",  # every row is written, the generation's arrays are not
    "mid_publish",  # new segments are written, no generation refers to them yet
    "after_publish_before_commit",  # the new generation directory is in place, not yet live
    "after_commit_before_cleanup",  # the new generation is live, the old directory remains
)
WORKER_FAULT = "tokenizer_worker"  # a tokenizing worker process dies (the OOM killer's pick)


def fault(point: str) -> None:
    """Die at `point` when the test hook asks for it; a no-op otherwise (one env lookup)."""
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
