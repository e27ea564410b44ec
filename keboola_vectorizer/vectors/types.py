"""Vector types every layer passes around; they depend on nothing else in the package."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]


@dataclass
class QueryVectors:
    dense: Sequence[float] | None
    sparse: SparseVector | None
