"""`--json` output: one JSON document on stdout, scrubbed of secrets. Apart from cli/render.py so that
the thin `search` (cli/thin_search.py) writes it without importing rich."""

from __future__ import annotations

import json
import sys
from typing import Any

from keboola_vectorizer.redact import scrub


def print_json(data: Any) -> None:
    sys.stdout.write(scrub(json.dumps(data, indent=2, ensure_ascii=False, default=str)) + "\n")
