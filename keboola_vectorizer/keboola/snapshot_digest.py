"""A digest of what one project's documents are made from, so an index run can skip a project whose
documents cannot have changed without building them again.

A project's documents depend on its snapshot files alone (`project_documents` reads nothing else),
on the code that turns those files into documents, and on the embedder that turns them into vectors.
The digest covers all three: the bytes of the project's files, the source of the document builders
(this package, the id and redaction rules: any edit to them, or a release that changes them, changes
the digest) and the embedder id. Equal digests mean equal documents; a digest that differs only
means the project is read again.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from keboola_vectorizer.keboola.snapshot import PROJECT_FILES, ProjectEntry


@lru_cache(maxsize=1)
def builder_version() -> str:
    """A hash of the document builders' source: documents built by other code are built again."""
    package = Path(__file__).parent
    digest = hashlib.blake2b(digest_size=16)
    for path in [*sorted(package.glob("*.py")), package.parent / "ids.py", package.parent / "redact.py"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def project_digest(root: Path, entry: ProjectEntry, embedder_id: str) -> str:
    """The digest of `entry`'s files under snapshot `root`, the builders and the embedder."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (builder_version(), embedder_id, str(entry.id), entry.name, entry.stack_url):
        digest.update(part.encode())
        digest.update(b"\0")
    folder = root / str(entry.id)
    for name in PROJECT_FILES:
        digest.update(name.encode())
        with (folder / name).open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "blake2b").digest())
    return digest.hexdigest()
