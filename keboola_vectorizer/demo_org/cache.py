"""The demo organisation generated once into the user cache, keyed by generator version and seed.

A new generator version writes a new folder, so a cache never serves an outdated organisation; the
folder is written beside its final name and renamed into place, so a reader never sees half of it
and two processes generating at once both end with one complete copy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from keboola_vectorizer.config import environment
from keboola_vectorizer.demo_org.summary import OrganisationSummary
from keboola_vectorizer.errors import SnapshotError

# Bump when generated content changes: cached organisations of older versions are then ignored.
GENERATOR_VERSION = "1"
CACHE_ENV = "KV_DEMO_ORG_DIR"


def _cache_root() -> Path:
    override = environment().get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("keboola-vectorizer")) / "demo-org"


def _source_digest() -> str:
    """A digest of the generator's own code and vocabulary: editing either regenerates the cache,
    even when nobody remembered to bump GENERATOR_VERSION."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def demo_snapshot_dir(seed: int = 0) -> Path:
    """The default demo organisation's snapshot directory, generating it on first use."""
    target = _cache_root() / f"v{GENERATOR_VERSION}-{_source_digest()}-seed{seed}"
    if (target / "generated.json").is_file():
        return target
    # The package's generate_organisation with its defaults, imported from where it lives: the
    # package itself imports this module.
    from keboola_vectorizer.demo_org.organisation import DOMAINS, write

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    except OSError as exc:
        raise SnapshotError(f"cannot write the demo organisation into {target.parent} ({exc.strerror})",
                            f"set {CACHE_ENV} to a writable directory") from None
    try:
        write(staging, seed=seed, projects=len(DOMAINS), tables_per_project=None, compact=False)
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
