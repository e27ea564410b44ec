"""Generated points for the congruence suite: the same records go into every backend.

Seeded, so a failure reproduces: random 8-dimensional dense vectors, BM25 sparse vectors from
Qdrant's own encoder over texts drawn from a small vocabulary, and payloads spread over every
filtered field (including the boost's `last_changed_at` and `consumer_count`).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from qdrant_edge import Bm25

from keboola_vectorizer.store.types import CollectionMeta, PointRecord, SparseVector

DIMENSION = 8
META = CollectionMeta(embedder_id="test/congruence-8", dimension=DIMENSION)
WORDS = ["orders", "revenue", "customers", "crm", "snowflake", "extractor", "transformation", "monthly",
         "invoices", "payments", "campaign", "clicks", "sessions", "churn", "forecast", "inventory",
         "shipments", "suppliers", "ledger", "budget"]
PROJECTS = (7101, 7102, 7103)
KINDS = ("bucket", "table", "column", "configuration", "configuration_row")
STAGES = ("in", "out")
DEV_BRANCHES = (("4101", "feature-a"), ("4102", "feature-b"))
COMPONENTS = ("keboola.ex-db-snowflake", "keboola.snowflake-transformation", "keboola.ex-google-ads")
_BM25 = Bm25()


def sparse_document(text: str) -> SparseVector:
    vector = _BM25.embed_document(text)
    return SparseVector(list(vector.indices), [float(v) for v in vector.values])


def sparse_query(text: str) -> SparseVector:
    vector = _BM25.embed_query(text)
    return SparseVector(list(vector.indices), [float(v) for v in vector.values])


def random_dense(rng: random.Random) -> list[float]:
    return [rng.uniform(-1, 1) for _ in range(DIMENSION)]


def generate_points(count: int = 120, seed: int = 12) -> list[PointRecord]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    points = []
    for i in range(count):
        project = PROJECTS[i % len(PROJECTS)]
        kind = KINDS[i % len(KINDS)]
        bucket = f"{rng.choice(STAGES)}.c-b{i % 6}"
        text = " ".join(rng.sample(WORDS, rng.randint(2, 6)))
        payload = {
            "project_id": project, "kind": kind, "name": text, "content_hash": f"h{i}",
            "bucket_id": bucket, "stage": bucket.split(".")[0], "table_id": f"{bucket}.t{i % 9}",
            "last_changed_at": (start + timedelta(hours=rng.randint(0, 24 * 90))).isoformat(),
            "consumer_count": rng.randint(0, 6),
        }
        if kind.startswith("configuration"):
            payload["component_id"] = rng.choice(COMPONENTS)
        if i % 7 == 3:  # a dev-branch copy: searched only when its branch (or every branch) is asked for
            branch = DEV_BRANCHES[i % len(DEV_BRANCHES)]
            payload.update(branch_kind="dev", branch_id=branch[0], branch_name=branch[1])
        # BM25 weights nudged by under 1%: equal texts would tie, and engines order ties differently
        # (fusion would carry that into the fused ranks), so ties are made unlikely, not compared.
        sparse = sparse_document(text)
        sparse = SparseVector(sparse.indices, [v * (1 + rng.uniform(0, 0.01)) for v in sparse.values])
        points.append(PointRecord(f"{project}/{kind}/{bucket}.x{i}", random_dense(rng), sparse, payload))
    return points
