"""Turn one project's raw Storage API JSON into documents: id, kind, text, payload, two hashes.

The text is what gets embedded (dense and BM25), written the way people ask: identifiers split into
words, the most telling facts first (dense models read only the first ~256 tokens), then the
details that keyword search benefits from (columns, mappings, code). Words people use that the API
does not: component types as the UI names them ("data source", "data destination"), stages as
"input"/"output" data, tables of a configuration by name grouped by bucket, and for each table the
name and comments of the transformation code that creates it. Secrets never enter a document
(text.py states the rule). The raw JSON is read through the models of models.py; the builders live
in storage_documents.py (buckets, tables, columns) and config_documents.py (configurations, rows,
flows, schedules).
"""

from __future__ import annotations

from collections.abc import Iterator

from keboola_vectorizer.keboola.branches import BranchInfo, BranchPolicy
from keboola_vectorizer.keboola.code import code_notes
from keboola_vectorizer.keboola.config_documents import configuration_documents
from keboola_vectorizer.keboola.doc_base import Document, ProjectContext, content_hash, text_hash
from keboola_vectorizer.keboola.lineage import build_lineage, configuration_doc_id, mapping_output_pairs
from keboola_vectorizer.keboola.models import Branch, Component
from keboola_vectorizer.keboola.snapshot import ProjectSnapshot
from keboola_vectorizer.keboola.storage_documents import bucket_documents, table_and_column_documents
from keboola_vectorizer.keboola.text import split_identifier, table_refs

KINDS = ("bucket", "table", "column", "configuration", "configuration_row")

__all__ = ["KINDS", "Document", "code_notes", "content_hash", "project_documents", "split_identifier",
           "table_refs", "text_hash"]


def project_documents(project: ProjectSnapshot) -> Iterator[Document]:
    """Every document of one project: buckets, tables, columns, configurations, rows."""
    lineage = build_lineage(project.id, project.components, project.tables)
    branches = BranchPolicy([Branch.model_validate(b) for b in project.branches])
    ctx = ProjectContext(project, lineage, branches)
    for raw in project.components:
        component = Component.model_validate(raw)
        for config in component.configurations:
            if config.is_deleted:
                continue
            doc = configuration_doc_id(project.id, component.id, config.id)
            ctx.config_names[doc] = f"{config.name or config.id} ({component.label})"
            bodies = [config.configuration, *(row.configuration for row in config.rows)]
            for body in bodies:
                for source, destination in mapping_output_pairs(body):
                    note = code_notes(body, source)
                    if note and note not in ctx.table_code_notes.setdefault(destination, []):
                        ctx.table_code_notes[destination].append(note)
    branch_of: dict[str, BranchInfo | None] = {}
    yield from bucket_documents(ctx, branch_of)
    yield from table_and_column_documents(ctx, branch_of)
    yield from configuration_documents(ctx)
