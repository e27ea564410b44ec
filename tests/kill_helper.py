"""Test-only: run the real `keboola-vectorizer` CLI with a hook that SIGKILLs the process mid-run.

    KV_TEST_KILL=upsert:N python -m tests.kill_helper index --snapshot DIR ...

`upsert:N` — on the Nth store upsert call, write the first half of its points, then `kill -9` itself
(a batch half written, nothing flushed or closed). `embed:N` — on the Nth embed call, `kill -9` itself
before the vectors come back (earlier batches may still be on the upsert thread). `watch-cursor:N` — in
`watch`, on the Nth cursor write (its re-index already upserted), `kill -9` itself before the cursor is
written. Anything else runs the CLI unchanged. The point is a death that no `finally`, `atexit` or signal
handler can soften.
`KV_TEST_SIGNAL=TERM` sends SIGTERM instead (what Kubernetes sends first when it stops a pod).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any


def _install(spec: str) -> None:
    where, _, nth_text = spec.partition(":")
    nth = int(nth_text or "1")
    calls = {"n": 0}
    guard = threading.Lock()

    def due() -> bool:
        with guard:
            calls["n"] += 1
            return calls["n"] == nth

    which = signal.SIGTERM if os.environ.get("KV_TEST_SIGNAL") == "TERM" else signal.SIGKILL

    def die() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), which)

    if where == "upsert":
        from keboola_vectorizer.store.edge import EdgeStore

        original_upsert = EdgeStore.upsert

        def upsert(self: Any, points: Any) -> None:
            if due():
                original_upsert(self, list(points)[: max(1, len(points) // 2)])
                die()
            original_upsert(self, points)

        EdgeStore.upsert = upsert  # type: ignore[method-assign]
    elif where == "embed":
        from keboola_vectorizer import pipeline

        original_embed = pipeline.embed_batch

        def embed_batch(*args: Any, **kwargs: Any) -> Any:
            if due():
                die()
            return original_embed(*args, **kwargs)

        pipeline.embed_batch = embed_batch  # type: ignore[assignment]
    elif where == "watch-cursor":
        # `watch`: the re-index is upserted and acknowledged, the cursor not yet written.
        from keboola_vectorizer.watch import loop

        original_write = loop.write_cursor

        def write_cursor(*args: Any, **kwargs: Any) -> None:
            if due():
                die()
            original_write(*args, **kwargs)

        loop.write_cursor = write_cursor  # type: ignore[assignment]
    else:
        raise SystemExit(f"kill_helper: unknown KV_TEST_KILL {spec!r}")


def main() -> None:
    spec = os.environ.get("KV_TEST_KILL", "")
    if spec:
        _install(spec)
    from keboola_vectorizer.cli import main as cli_main

    sys.argv = ["keboola-vectorizer", *sys.argv[1:]]
    cli_main()


if __name__ == "__main__":
    main()
