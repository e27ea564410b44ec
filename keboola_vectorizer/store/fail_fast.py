"""Fail fast where a person waits: retry settings for interactive commands on the server backend.

A nightly `index` should ride out a Qdrant restart, so batch runs keep `ServerStore`'s backoff (5
attempts, 0.5 s → 8 s, up to QDRANT_RETRY_DEADLINE), with one WARNING line per retry. Someone who typed
`search` should not watch 11 s of retry warnings scroll by when the server is down: interactive commands
(search, similar, lineage, status, doctor) try twice, 0.2 s apart, log their retry at DEBUG only, stop
retrying after 1 s, and give up on a connection that is not established within 1.5 s. A refused
connection fails in well under a second, a black-holed host in about 1.5 s (the first connect timeout
leaves no time for a second try), each with the one error line. Reads keep QDRANT_TIMEOUT once connected:
a slow answer from a busy cluster is not a dead one.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)

ATTEMPTS = 2
DEADLINE_S = 1.0
FIRST_WAIT_S = 0.2
MAX_WAIT_S = 0.5
CONNECT_TIMEOUT_S = 1.5


def interactive(options: Any) -> Any:
    """`ServerOptions` for a command a person waits on (see the module doc)."""
    return dataclasses.replace(options, retry_attempts=ATTEMPTS, retry_deadline_s=DEADLINE_S,
                               retry_initial_s=FIRST_WAIT_S, retry_max_s=MAX_WAIT_S, quiet_retries=True,
                               connect_timeout_s=CONNECT_TIMEOUT_S)


def limit_connect_timeout(client: Any, seconds: float) -> None:
    """Cap the time qdrant-client's HTTP client waits to connect, leaving its read timeout as it is.
    qdrant-client takes one timeout for every phase, so this reaches its httpx.Client; if a future
    qdrant-client moves it, the command still works, with the longer connect timeout (logged)."""
    try:
        http = client._client.openapi_client.client._client
        current = http.timeout
        http.timeout = httpx.Timeout(current.read, connect=min(seconds, current.connect or seconds),
                                     write=current.write, pool=current.pool)
    except AttributeError:
        log.debug("qdrant-client's HTTP client not found; the connect timeout stays at QDRANT_TIMEOUT")
