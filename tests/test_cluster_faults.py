"""Cluster faults on the server backend through a modelled 3-node cluster (tests/cluster_faults.py: the
behaviour Qdrant documents, in front of a real in-memory Qdrant): a node gone during upserts with write
consistency 1 and 2, a node back with stale replicas, reads during a shard transfer. Each run completes,
or fails with exit 6 and converges on the next run; the final collection equals an undisturbed run's."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests import cluster_faults as cf
from tests import fault_scenarios as fs


@pytest.mark.parametrize("scenario", cf.CLUSTER, ids=[s.__name__ for s in cf.CLUSTER])
def test_cluster_fault_converges_to_the_undisturbed_collection(scenario: Callable[[fs.Lab], fs.Outcome],
                                                               fault_lab: fs.Lab) -> None:
    outcome = scenario(fault_lab)
    report = f"{outcome.fault} @ {outcome.where}: {outcome.outcome}; failed checks {outcome.failed_checks()}"
    assert outcome.failed_checks() == [], report
    assert (outcome.lost, outcome.duplicated, outcome.strays) == (0, 0, 0), report


def test_the_model_refuses_a_write_short_of_its_consistency_after_applying_it() -> None:
    """What the consistency-2 scenario relies on: 500 with the write applied where replicas are up."""
    from qdrant_client import QdrantClient, models
    from qdrant_client.http.exceptions import UnexpectedResponse

    from keboola_vectorizer.store.server import _is_transient

    cluster = cf.ModelCluster(QdrantClient(":memory:"))
    cluster.create_collection("c", vectors_config=models.VectorParams(size=2, distance=models.Distance.COSINE),
                              write_consistency_factor=2)
    point = next(p for p in (f"00000000-0000-0000-0000-{n:012d}" for n in range(100))
                 if 2 in cf.ModelCluster.replicas(p))
    cluster.down.add(2)
    with pytest.raises(UnexpectedResponse) as info:
        cluster.upsert(collection_name="c", points=[models.PointStruct(id=point, vector=[1.0, 0.0])])
    assert info.value.status_code == 500 and _is_transient(info.value)
    assert cluster.count("c").count == 1 and cluster.missed[2] == {point}
