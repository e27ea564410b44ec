"""The document type, its two hashes, and the per-project context every document builder reads."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from keboola_vectorizer.keboola.branches import BranchPolicy
from keboola_vectorizer.keboola.lineage import Lineage
from keboola_vectorizer.keboola.snapshot import ProjectSnapshot
from keboola_vectorizer.keboola.text import clip

MAX_DESCRIPTION_CHARS = 2000
MAX_TEXT_CHARS = 12000
# How people name component types (the Keboola UI says "data source" and "data destination").
TYPE_WORDS = {
    "extractor": "Data source (extractor)",
    "writer": "Data destination (writer)",
    "transformation": "Transformation",
    "application": "Application",
    "flow": "Flow (orchestration)",
}
STAGE_WORDS = {"in": "input", "out": "output"}


@dataclass
class Document:
    """`text_hash` covers what is embedded (a change re-embeds); `content_hash` covers the text and
    the payload shown (a change of the payload alone, such as a data load's row count, is written
    in place without embedding)."""

    id: str
    kind: str
    text: str
    payload: dict[str, Any]
    content_hash: str = ""
    text_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "text": self.text, "payload": self.payload,
                "content_hash": self.content_hash, "text_hash": self.text_hash}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(text: str, payload: dict[str, Any]) -> str:
    shown = {k: v for k, v in payload.items() if k not in {"indexed_at", "content_hash"}}
    digest = hashlib.sha256(text.encode("utf-8"))
    digest.update(json.dumps(shown, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    return digest.hexdigest()


def finish(doc_id: str, kind: str, text: str, payload: dict[str, Any]) -> Document:
    text = clip(re.sub(r"[ \t]+\n", "\n", text).replace("\x00", ""), MAX_TEXT_CHARS)
    payload = {k: v for k, v in payload.items() if v not in (None, "", [])}
    return Document(doc_id, kind, text, payload, content_hash(text, payload), text_hash(text))


@dataclass
class ProjectContext:
    project: ProjectSnapshot
    lineage: Lineage
    branches: BranchPolicy
    config_names: dict[str, str] = field(default_factory=dict)
    # table id -> notes from the transformation code that creates it
    table_code_notes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"{self.project.stack_url}/admin/projects/{self.project.id}"

    def describe_configs(self, doc_ids: list[str]) -> str:
        return ", ".join(self.config_names.get(d, d.split("/", 2)[-1]) for d in doc_ids)

    def config_url(self, component_id: str, config_id: str) -> str:
        return f"{self.base_url}/components/{component_id}/{config_id}"
