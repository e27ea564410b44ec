"""`compare_results`: the same call on two stores must give the same answer (qdrant-client's
tests/congruence_tests/test_common.py `compare_client_results`, for our `VectorStore`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keboola_vectorizer.store.base import Hit, VectorStore

SCORE_TOLERANCE = 1e-4


def _ranked(hits: list[Hit]) -> list[tuple[str, float]]:
    return [(hit.document_id, hit.score) for hit in hits]


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= SCORE_TOLERANCE * max(1.0, abs(a))


def _tie_groups(hits: list[tuple[str, float]]) -> list[tuple[float, set[str]]]:
    groups: list[tuple[float, set[str]]] = []
    for document_id, score in hits:
        if groups and _close(groups[-1][0], score):
            groups[-1][1].add(document_id)
        else:
            groups.append((score, {document_id}))
    return groups


def assert_same_hits(left: list[Hit], right: list[Hit], what: str) -> None:
    """Same ids in the same order with scores within the tolerance. Points whose scores tie may come
    in either order (the engines break ties differently), so a tie compares as a set; the tie at
    the cut-off may even be cut at different members, so only its size and score must agree."""
    a, b = _ranked(left), _ranked(right)
    assert len(a) == len(b), f"{what}: {len(a)} hits vs {len(b)}\n{a}\n{b}"
    for (id_a, score_a), (id_b, score_b) in zip(a, b, strict=True):
        assert _close(score_a, score_b), f"{what}: scores differ at {id_a} / {id_b}: {score_a} vs {score_b}\n{a}\n{b}"
    groups_a, groups_b = _tie_groups(a), _tie_groups(b)
    assert len(groups_a) == len(groups_b), f"{what}: ties differ\n{a}\n{b}"
    for index, ((_, ids_a), (_, ids_b)) in enumerate(zip(groups_a, groups_b, strict=True)):
        last = index == len(groups_a) - 1
        assert len(ids_a) == len(ids_b) and (last or ids_a == ids_b), f"{what}: hits differ\n{a}\n{b}"
    # The payloads of the same point are the same (both return plain JSON).
    by_id = {hit.document_id: hit.payload for hit in right}
    for hit in left:
        if hit.document_id in by_id:
            assert hit.payload == by_id[hit.document_id], f"{what}: payload of {hit.document_id} differs"


def compare_results(stores: dict[str, VectorStore], call: Callable[[VectorStore], Any], what: str) -> Any:
    """Run `call` on every store and assert that all answers agree; returns the first answer."""
    answers = {name: call(store) for name, store in stores.items()}
    (first_name, first), *others = answers.items()
    for name, answer in others:
        label = f"{what} ({first_name} vs {name})"
        if isinstance(first, list) and all(isinstance(hit, Hit) for hit in first + answer):
            assert_same_hits(first, answer, label)
        else:
            assert first == answer, f"{label}: {first!r} != {answer!r}"
    return first
