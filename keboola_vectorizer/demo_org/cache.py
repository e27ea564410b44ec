"""The demo organisation generated once into the user cache, keyed by generator version and seed.

A new generator version writes a new folder, so a cache never serves an outdated organisation; the
folder is written beside its final name and renamed into place, so a reader never sees half of it
and two processes generating at once both end with one complete copy.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from keboola_vectorizer.demo_org.summary import OrganisationSummary

# Bump when generated content changes: cached organisations of older versions are then ignored.
GENERATOR_VERSION = "1"
CACHE_ENV = "KV_DEMO_ORG_DIR"


def _cache_root() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("keboola-vectorizer")) / "demo-org"


def demo_snapshot_dir(seed: int = 0) -> Path:
    """The default demo organisation's snapshot directory, generating it on first use."""
    target = _cache_root() / f"v{GENERATOR_VERSION}-seed{seed}"
    if (target / "generated.json").is_file():
        return target
    from keboola_vectorizer.demo_org import generate_organisation

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        generate_organisation(staging, seed=seed)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "generated.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def demo_summary(root: Path | None = None) -> OrganisationSummary:
    """The summary of a generated organisation (the cached demo one by default), read back from disk."""
    root = demo_snapshot_dir() if root is None else Path(root)
    data = json.loads((root / "generated.json").read_text(encoding="utf-8"))
    entries = json.loads((root / "projects.json").read_text(encoding="utf-8"))
    tokens = {int(e["id"]): (str(e["token"]), str(e["stack_url"])) for e in entries}
    return OrganisationSummary.from_json(root, data, tokens)
