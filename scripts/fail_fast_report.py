"""Print how long commands take to give up on an unreachable Qdrant server (store/fail_fast.py).

    .venv/bin/python scripts/fail_fast_report.py

For a closed port and for a server that accepts connections and hangs up, it times `ServerStore.meta()`
until its StoreError with the interactive settings (search, similar, lineage, status, doctor) and with
the batch settings (index, upsert; QDRANT_RETRY_DEADLINE at its default 30 s), counting retry log
lines, then the whole `keboola-vectorizer search` command against the closed port (Python start and
imports included, which dominate on a busy machine).
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from keboola_vectorizer.config import Settings  # noqa: E402
from keboola_vectorizer.errors import StoreError  # noqa: E402
from keboola_vectorizer.store.server import ServerStore  # noqa: E402
from tests import fault_scenarios as fs  # noqa: E402
from tests.test_fail_fast import HangUpServer  # noqa: E402


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.warnings = self.debug = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "retry" in record.getMessage():
            self.warnings += record.levelno >= logging.WARNING
            self.debug += record.levelno < logging.WARNING


def _give_up(url: str, interactive: bool) -> tuple[float, _Count]:
    counter = _Count()
    logger = logging.getLogger("keboola_vectorizer")
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    store = ServerStore.from_settings(Settings(qdrant_url=url), interactive=interactive)
    started = time.perf_counter()
    try:
        store.meta()
    except StoreError:
        pass
    finally:
        logger.removeHandler(counter)
        store.close()
    return time.perf_counter() - started, counter


def main() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    hang_up = HangUpServer()
    print("| server | settings | gave up after | retry lines (WARNING / DEBUG) |")
    print("| --- | --- | ---: | --- |")
    for label, url in (("closed port", closed), ("accepts and hangs up", hang_up.url)):
        for interactive in (True, False):
            seconds, counter = _give_up(url, interactive)
            print(f"| {label} | {'interactive' if interactive else 'batch'} | {seconds:.2f} s | "
                  f"{counter.warnings} / {counter.debug} |")
    hang_up.close()
    started = time.perf_counter()
    result = subprocess.run(fs.CLI + ["search", "monthly churn"], env=fs.clean_env(QDRANT_URL=closed),
                            capture_output=True, text=True, cwd=REPO)
    print(f"\n`keboola-vectorizer search` against the closed port: exit {result.returncode} in "
          f"{time.perf_counter() - started:.2f} s, {len(result.stderr.strip().splitlines())} stderr line(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
