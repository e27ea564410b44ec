"""Which objects belong to a development branch, and which branch.

Keboola keeps a dev branch's storage beside production: its buckets are named with the branch id
(`in.c-1234-crm` for `in.c-crm` in branch 1234) and its tables carry `KBC.createdBy.branch.id` /
`KBC.lastUpdatedBy.branch.id` metadata; buckets may name their branch in `idBranch`. An object is in
a dev branch when any of these names a branch of the project that is not the default one. Such
documents carry `branch_id`, `branch_name` and `branch_kind: "dev"`; searches leave them out unless
asked (`--branch`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keboola_vectorizer.keboola.models import Branch

_BRANCH_PREFIX = re.compile(r"^(?:in|out)\.c-(\d+)-")
BRANCH_METADATA = ("KBC.createdBy.branch.id", "KBC.lastUpdatedBy.branch.id")


@dataclass(frozen=True)
class BranchInfo:
    id: str
    name: str

    def payload(self) -> dict[str, str]:
        return {"branch_id": self.id, "branch_name": self.name, "branch_kind": "dev"}

    def text(self) -> str:
        return f"Development branch {self.name} (branch id {self.id}), not production."


class BranchPolicy:
    def __init__(self, branches: list[Branch]) -> None:
        self._dev = {b.id: b.name or b.id for b in branches if not b.is_default}

    def _info(self, branch_id: str) -> BranchInfo | None:
        return BranchInfo(branch_id, self._dev[branch_id]) if branch_id in self._dev else None

    def of_bucket(self, bucket_id: str, id_branch: str = "", meta: dict[str, str] | None = None) -> BranchInfo | None:
        for candidate in (*(meta.get(k, "") for k in BRANCH_METADATA if meta), id_branch):
            if candidate and self._info(candidate):
                return self._info(candidate)
        match = _BRANCH_PREFIX.match(bucket_id)
        return self._info(match.group(1)) if match else None

    def of_table(self, bucket_id: str, meta: dict[str, str], bucket: BranchInfo | None) -> BranchInfo | None:
        return self.of_bucket(bucket_id, "", meta) or bucket
