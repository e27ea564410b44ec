"""Faults injected into real index runs over real HTTP: the fake Storage API and the fake OpenAI server
answer 429 with Retry-After, 5xx, slow answers past the timeout and dropped connections at chosen
requests; the Qdrant server backend loses its server mid-upsert. Every run completes, or fails with one
clear line and resumes on the next run, and the final collection equals an undisturbed run's: the same
ids with the same content hashes, one point each (tests/fault_scenarios.py has the scenarios;
scripts/fault_matrix.py prints them as a table)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests import fault_scenarios as fs

SCENARIOS = fs.STORAGE + fs.OPENAI + fs.QDRANT


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_fault_run_converges_to_the_undisturbed_collection(scenario: Callable[[fs.Lab], fs.Outcome],
                                                           fault_lab: fs.Lab) -> None:
    outcome = scenario(fault_lab)
    report = f"{outcome.fault} @ {outcome.where}: {outcome.outcome}; failed checks {outcome.failed_checks()}"
    assert outcome.failed_checks() == [], report
    assert (outcome.lost, outcome.duplicated, outcome.strays) == (0, 0, 0), report


def test_flaky_qdrant_fails_like_qdrant_client() -> None:
    """The stand-in raises what qdrant-client raises when the server is down, so ServerStore's own
    classification (retry, then 'unreachable') is what the Qdrant scenarios exercise."""
    import httpx
    from qdrant_client import QdrantClient
    from qdrant_client.http.exceptions import ResponseHandlingException

    from keboola_vectorizer.errors import StoreError
    from keboola_vectorizer.store.server import ServerOptions, ServerStore, _is_transient

    down = fs.FlakyQdrant(QdrantClient(":memory:"), "get_aliases", first=1, count=100)
    with pytest.raises(ResponseHandlingException) as info:
        down.get_aliases()
    assert _is_transient(info.value) and isinstance(info.value.source, httpx.ConnectError)
    store = ServerStore(down, options=ServerOptions(retry_attempts=3, retry_deadline_s=2, retry_initial_s=0.01,
                                                    retry_max_s=0.02), owns_client=False)
    with pytest.raises(StoreError, match="unreachable") as error:
        store.meta()
    assert error.value.exit_code == 6
    assert down.failed == 1 + 3  # the direct call, then three attempts: retried, not multiplied
