"""ONNX Runtime for the local sentence-transformers model: the same vectors without torch at query time.

The model is exported once from the PyTorch weights (`torch.onnx.export` of the transformer with the
mean pooling and L2 normalisation folded into the graph) into the user's cache directory, keyed by
a fingerprint of the model files. The export is checked against the PyTorch model on probe
sentences and kept only when every cosine is at least `MIN_COSINE`; otherwise the embedder stays on
PyTorch. After that a process needs only `tokenizers`, `numpy` and `onnxruntime` (about 0.2 s to
import, against about 3 s for torch + transformers + sentence-transformers), and on CPU the runtime
also embeds documents 2-4x faster than PyTorch (docs/benchmarks.md).

Only models of the plain shape are exported: a Transformer module, mean pooling, optional
Normalize, a `tokenizer.json`, no default prompt. Anything else stays on PyTorch.

Settings (config.py reads them): KEBOOLA_VECTORIZER_EMBEDDING_BACKEND (auto, the default: ONNX when
possible | onnx | torch), KEBOOLA_VECTORIZER_ONNX_CACHE (directory of exported models; default: the
user cache dir) and ORT_NUM_THREADS / OMP_NUM_THREADS (the runtime's threads).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keboola_vectorizer.embedding.local_model import quiet_offline_env, resolve_model_path

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnx", "torch")
WEIGHTS = ("fp32", "int8")
INT8_FILE = "model.int8-per-channel.onnx"  # renamed when per-tensor scales gave way to per-channel
EXPORT_FORMAT = "1"  # bump when the exported graph changes
OPSET = 17
MIN_COSINE = 0.999
# Small batches of similar length: little padding, and the activations stay in cache (measured
# faster than 64 on CPU for this model; docs/benchmarks.md).
DOCUMENT_BATCH = 16
# The model reads `max_seq_length` word pieces; text beyond this many characters a piece is never
# read, so it is cut before tokenizing (documents run to 12k characters; metadata text averages
# 3.4-3.8 characters a piece, scripts/token_budget.py). The stored text is not cut.
CHARS_PER_PIECE_CAP = 12
PROBES = (
    "customer churn",
    "Which table holds revenue by country and month?",
    "Snowflake transformation that builds the orders table from the raw Shopify export",
    "a",
    "Column email_address of table contacts in bucket out.c-crm, Keboola project Sales. " * 8,
)
_MODEL_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json", "modules.json",
                "sentence_bert_config.json", "1_Pooling/config.json", "config_sentence_transformers.json")


class OnnxUnavailable(Exception):
    """The ONNX path cannot serve this model here; the caller falls back to PyTorch."""


def requested_backend(value: str | None) -> str:
    """The configured backend; anything unknown means `auto`."""
    value = (value or "auto").strip().lower()
    return value if value in BACKENDS else "auto"


def requested_weights(value: str | None) -> str:
    """fp32 or int8; anything else is refused (a typo must not silently pick other vectors)."""
    weights = (value or "fp32").strip().lower()
    if weights not in WEIGHTS:
        from keboola_vectorizer.errors import EmbeddingError

        raise EmbeddingError(f"KV_ONNX_WEIGHTS={value!r} is not one of {', '.join(WEIGHTS)}",
                             "set KV_ONNX_WEIGHTS to fp32 or int8, or unset it")
    return weights


def quantized(exported: Path) -> Path:
    """The int8 model beside the fp32 export (made once with ONNX Runtime's dynamic quantization:
    int8 weights, activations quantized per batch at run time), as the file to load.

    Weights get one scale per output channel: on document texts that keeps the vectors at cosine
    0.993 to fp32 (one scale per tensor: 0.947), at the same speed on this CPU (scripts/int8_check.py).
    """
    target = exported / INT8_FILE
    if target.is_file():
        return target
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise OnnxUnavailable(f"quantizing needs onnxruntime's quantization tools ({exc})") from None
    staging = exported / f".{INT8_FILE}.{os.getpid()}.partial"
    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its "consider pre-processing" warning goes to the root logger
    try:
        quantize_dynamic(str(exported / "model.onnx"), str(staging), weight_type=QuantType.QInt8,
                         per_channel=True)
        os.replace(staging, target)
    except Exception as exc:  # any failure means "no int8 here"; the caller names the fix
        raise OnnxUnavailable(f"quantizing {exported / 'model.onnx'} failed ({exc.__class__.__name__}: "
                              f"{str(exc)[:200]})") from None
    finally:
        quiet.setLevel(level)
        staging.unlink(missing_ok=True)
    log.info("quantized the embedding model to int8 at %s", target)
    return target


def cache_root(configured: str | Path | None = None) -> Path:
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("keboola-vectorizer", appauthor=False)) / "onnx"


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def model_shape(model_path: Path) -> tuple[int, int]:
    """(max_seq_length, dimension) of a model this module can export; OnnxUnavailable otherwise."""
    try:
        modules = _read_json(model_path / "modules.json")
        types = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
        if types not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            raise OnnxUnavailable(f"module stack {types} is not Transformer + Pooling (+ Normalize)")
        pooling_dir = next(m.get("path", "") for m in modules if str(m.get("type", "")).endswith("Pooling"))
        pooling = _read_json(model_path / pooling_dir / "config.json")
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
        if modes != {"pooling_mode_mean_tokens"}:
            raise OnnxUnavailable(f"pooling {sorted(modes)} is not mean pooling")
        if not (model_path / "tokenizer.json").is_file():
            raise OnnxUnavailable("the model has no tokenizer.json")
        st_config_path = model_path / "config_sentence_transformers.json"
        if st_config_path.is_file():
            st_config = _read_json(st_config_path)
            if st_config.get("default_prompt_name") or st_config.get("prompts"):
                raise OnnxUnavailable("the model uses prompts")
        bert_config = _read_json(model_path / "sentence_bert_config.json")
        if bert_config.get("do_lower_case"):
            raise OnnxUnavailable("the model lower-cases outside its tokenizer")
        max_len = int(bert_config.get("max_seq_length") or 256)
        dimension = int(pooling["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, StopIteration, TypeError) as exc:
        raise OnnxUnavailable(f"cannot read the model's configuration ({exc})") from None
    return max_len, dimension


def fingerprint(model_path: Path) -> str:
    """Names, sizes and modification times of the model's files: cheap, and changes on reinstall."""
    digest = hashlib.sha256(f"{EXPORT_FORMAT}|{OPSET}|{model_path.resolve()}".encode())
    for name in _MODEL_FILES:
        path = model_path / name
        if path.is_file():
            stat = path.stat()
            digest.update(f"|{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def export_dir(model_path: Path, cache: str | Path | None = None) -> Path:
    name = model_path.name if model_path.name != "model" else model_path.parent.name
    return cache_root(cache) / f"{name}-{fingerprint(model_path)}"


def export(model_path: Path, torch_model: Any = None, cache: str | Path | None = None) -> Path:
    """Export `model_path` to ONNX in the cache (if not there yet) and return the export's folder.

    `torch_model` is a loaded SentenceTransformer of the same folder, reused when the caller has one
    (an index run) and also used to check the export. Needs torch, transformers and onnx.
    """
    max_len, _ = model_shape(model_path)
    target = export_dir(model_path, cache)
    if (target / "model.onnx").is_file():
        return target
    quiet_offline_env()
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise OnnxUnavailable(f"exporting needs torch and transformers ({exc})") from None
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError:
        raise OnnxUnavailable("exporting needs the onnx package (pip install onnx)") from None

    class Pooled(torch.nn.Module):
        def __init__(self, transformer: Any) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    root = target.parent
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
    except OSError as exc:
        raise OnnxUnavailable(f"the ONNX cache {root} is not writable ({exc.strerror})") from None
    try:
        # The eager attention traces to plain ops; the vectors are the same as with SDPA.
        transformer = AutoModel.from_pretrained(str(model_path), attn_implementation="eager")
        transformer.eval()
        ids = torch.ones((2, 8), dtype=torch.long)
        import warnings

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(transformer), (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                str(staging / "model.onnx"),
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["embedding"],
                dynamic_axes={name: {0: "batch", 1: "tokens"}
                              for name in ("input_ids", "attention_mask", "token_type_ids")}
                | {"embedding": {0: "batch"}},
                opset_version=OPSET, dynamo=False,
            )
        del transformer
        encoder = OnnxEncoder(model_path, staging, max_len)
        reference = torch_model
        if reference is None:
            from sentence_transformers import SentenceTransformer

            reference = SentenceTransformer(str(model_path), device="cpu")
        expected = np.asarray(reference.encode(list(PROBES), normalize_embeddings=True,
                                               convert_to_numpy=True, show_progress_bar=False), dtype=np.float32)
        cosines = (encoder.encode(list(PROBES)) * expected).sum(axis=1)
        if float(cosines.min()) < MIN_COSINE:
            raise OnnxUnavailable(f"the ONNX export does not match PyTorch (cosine {cosines.min():.5f})")
        (staging / "manifest.json").write_text(json.dumps({
            "model": str(model_path), "fingerprint": fingerprint(model_path), "opset": OPSET,
            "format": EXPORT_FORMAT, "max_seq_length": max_len, "min_probe_cosine": float(cosines.min()),
            "torch": torch.__version__,
        }, indent=1))
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the export from other users of a shared cache
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / "model.onnx").is_file():  # not another process winning the race
                raise
        log.info("exported the embedding model to ONNX at %s", target)
        prune_stale_exports(root)
        return target
    except OnnxUnavailable:
        raise
    except Exception as exc:  # the exporter raises many kinds; any of them means "stay on PyTorch"
        raise OnnxUnavailable(f"the ONNX export failed ({exc.__class__.__name__}: {str(exc)[:200]})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prune_stale_exports(root: Path) -> list[Path]:
    """Remove exports no model can use again: their model folder is gone or was reinstalled.

    The fingerprint holds the model's path and file times, so each new environment or reinstall
    exports anew (~100 MB); without this the cache only grows. An export whose model is still
    there unchanged is kept, whoever uses it.
    """
    removed: list[Path] = []
    for folder in sorted(root.glob("*-*")):
        if folder.name.startswith("."):
            continue  # another process's export in progress
        try:
            manifest = _read_json(folder / "manifest.json")
            model = Path(manifest["model"])
            if model.is_dir() and fingerprint(model) == manifest.get("fingerprint"):
                continue
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable or being written: not ours to judge
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    if removed:
        log.info("removed %d ONNX export(s) of models that are gone or reinstalled", len(removed))
    return removed


def cached_export(model_path: Path, cache: str | Path | None = None) -> Path | None:
    """The export's folder if the cache already holds it (no torch needed then)."""
    try:
        model_shape(model_path)
    except OnnxUnavailable:
        return None
    target = export_dir(model_path, cache)
    return target if (target / "model.onnx").is_file() else None


def import_runtime() -> tuple[Any, Any]:
    """ONNX Runtime and the tokenizer class, imported (cheap once imported; OnnxUnavailable names a lack)."""
    try:
        import onnxruntime
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise OnnxUnavailable(f"onnxruntime is not installed ({exc})") from None
    return onnxruntime, Tokenizer


class OnnxEncoder:
    """Tokenizer + ONNX Runtime session: texts in, L2-normalised float32 vectors out."""

    def __init__(self, model_path: Path, exported: Path, max_seq_length: int | None = None,
                 threads: int | None = None, model_file: str = "model.onnx") -> None:
        ort, tokenizer_class = import_runtime()
        max_len = max_seq_length or model_shape(model_path)[0]
        # The session first: it loads without the GIL, so a search loads it while its index loads.
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(exported / model_file), options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise OnnxUnavailable(f"cannot load {exported / model_file} ({exc})") from None
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = tokenizer_class.from_file(str(model_path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_len)
        self._char_cap = max_len * CHARS_PER_PIECE_CAP
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = DOCUMENT_BATCH) -> np.ndarray:
        """Vectors in input order; texts are run shortest first in batches of `batch_size`."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encodings = self._tokenizer.encode_batch([text[:self._char_cap] for text in texts])
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out: np.ndarray | None = None
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            width = max(len(encodings[i].ids) for i in chosen)
            ids = np.zeros((len(chosen), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            types = np.zeros_like(ids)
            for row, index in enumerate(chosen):
                enc = encodings[index]
                n = len(enc.ids)
                ids[row, :n] = enc.ids
                mask[row, :n] = 1
                types[row, :n] = enc.type_ids
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            with self._lock:
                vectors = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[chosen] = vectors
        assert out is not None
        return out


def main() -> None:
    """`python -m keboola_vectorizer.embedding.onnx_backend [MODEL_DIR]`: export now (e.g. in an image build)."""
    import sys

    from keboola_vectorizer.config import load_settings

    _, path = resolve_model_path(sys.argv[1] if len(sys.argv) > 1 else None)
    try:
        print(export(path, cache=load_settings().embedding_settings().onnx_cache))
    except OnnxUnavailable as exc:
        print(f"ONNX export not possible: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
