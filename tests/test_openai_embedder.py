"""The OpenAI provider, driven through the real `openai` client against a local fake API."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from keboola_vectorizer.embedding import registry
from keboola_vectorizer.embedding.base import (
    BaseEmbedder,
    EmbedCall,
    Embedder,
    EmbeddingSettings,
    available_providers,
    create_embedder,
    register_provider,
)
from keboola_vectorizer.embedding.openai import (
    MAX_TOKENS_PER_INPUT,
    OpenAIEmbedder,
    TokenCounter,
    token_counter,
)
from keboola_vectorizer.errors import ConfigError, EmbeddingError

try:  # the import path depends on whether pytest puts the repo root or tests/ on sys.path
    from tests.fakes.openai_server import FakeOpenAI, Fault, fake_openai  # noqa: F401 - fixture
except ModuleNotFoundError:  # pragma: no cover
    from fakes.openai_server import FakeOpenAI, Fault, fake_openai  # type: ignore[no-redef]  # noqa: F401

SMALL = "text-embedding-3-small"


def make(fake: FakeOpenAI, **overrides: object) -> OpenAIEmbedder:
    """An embedder on the fake with backoffs short enough for tests."""
    options: dict[str, object] = {
        "api_key": fake.api_key,
        "base_url": fake.base_url,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        "deadline_s": 10.0,
        "timeout_s": 5.0,
    }
    options.update(overrides)
    return OpenAIEmbedder(**options)  # type: ignore[arg-type]


def assert_vectors(vectors: np.ndarray, texts: Sequence[str], model: str = SMALL, dims: int | None = None) -> None:
    expected = np.vstack([FakeOpenAI.expected_vector(t, model, dims) for t in texts])
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


# -- registry --------------------------------------------------------------------------------------


def test_registry_finds_openai(fake_openai: FakeOpenAI) -> None:
    assert "openai" in available_providers()
    embedder = create_embedder(
        EmbeddingSettings(provider="openai", api_key=fake_openai.api_key, base_url=fake_openai.base_url)
    )
    assert isinstance(embedder, OpenAIEmbedder)
    assert isinstance(embedder, Embedder)
    assert embedder.id == "openai/text-embedding-3-small@1536"
    vector = embedder.embed_query("orders by customer")
    assert vector.shape == (1536,) and vector.dtype == np.float32
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_key_and_base_url_from_environment(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    from keboola_vectorizer.config import load_settings

    monkeypatch.setenv("OPENAI_API_KEY", fake_openai.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    settings = load_settings().embedding_settings(provider="openai", model="text-embedding-3-large")
    embedder = create_embedder(settings)
    assert embedder.embed_documents(["a", "b"]).shape == (2, 3072)
    assert fake_openai.requests == 1


@pytest.fixture
def dummy_provider() -> Iterator[None]:
    yield
    registry._REGISTERED.pop("test-dummy", None)


def test_a_new_provider_registers_without_touching_other_modules(dummy_provider: None) -> None:
    @register_provider("test-dummy")
    class DummyEmbedder(BaseEmbedder):
        """A whole provider: the base class owns id, usage, batching and embed_query."""

        def __init__(self, dimension: int) -> None:
            super().__init__()
            self._dimension = dimension

        @classmethod
        def from_settings(cls, settings: EmbeddingSettings) -> DummyEmbedder:
            return cls(settings.dimensions or 3)

        model_name = "dummy"

        @property
        def dimension(self) -> int:
            return self._dimension

        def embed_batch(self, batch: list[str], call: EmbedCall) -> np.ndarray:
            self.count_usage(requests=1, inputs=len(batch))
            return np.ones((len(batch), self._dimension)) * np.arange(1, len(batch) + 1)[:, None]

    embedder = create_embedder(EmbeddingSettings(provider="test-dummy", dimensions=5))
    assert isinstance(embedder, DummyEmbedder) and isinstance(embedder, Embedder)
    assert embedder.name == "test-dummy" and embedder.id == "test-dummy/dummy@5"
    assert "test-dummy" in available_providers() and "openai" in available_providers()
    vectors = embedder.embed_documents(["x", "y"])
    assert vectors.shape == (2, 5) and abs(float(np.linalg.norm(vectors[1])) - 1.0) < 1e-6  # normalised
    assert embedder.embed_query("z").shape == (5,)
    assert embedder.embed_documents([]).shape == (0, 5)
    assert (embedder.usage.requests, embedder.usage.inputs) == (2, 3)


def test_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown embedding provider 'nope'") as raised:
        create_embedder(EmbeddingSettings(provider="nope"))
    assert "local" in raised.value.hint and "openai" in raised.value.hint


# -- batching, order, usage ------------------------------------------------------------------------


def test_many_inputs_are_split_within_the_input_limit(fake_openai: FakeOpenAI) -> None:
    texts = [f"table out.c-crm.company_{i} holds companies" for i in range(5000)]
    embedder = make(fake_openai, dimensions=64)
    vectors = embedder.embed_documents(texts)
    assert vectors.shape == (5000, 64)
    assert fake_openai.requests >= 3
    assert fake_openai.max_inputs_per_request <= 2048
    assert fake_openai.inputs == 5000
    assert_vectors(vectors[::250], texts[::250], dims=64)
    usage = embedder.usage
    assert usage.requests == fake_openai.requests and usage.retries == 0
    assert usage.inputs == 5000
    assert usage.tokens == sum(record.tokens for record in fake_openai.log) > 0


def test_requests_stay_within_the_token_budget(fake_openai: FakeOpenAI) -> None:
    # 1500 inputs of ~500 tokens: under the input limit, but 2.5 token budgets.
    texts = [f"{i} " + "column " * 500 for i in range(1500)]
    embedder = make(fake_openai, dimensions=16)
    vectors = embedder.embed_documents(texts)
    assert vectors.shape == (1500, 16)
    assert fake_openai.requests >= 3
    assert 250_000 < fake_openai.max_tokens_per_request <= 300_000
    assert embedder.usage.tokens == sum(token_counter().count_many(texts))


def test_order_is_preserved_with_requests_in_flight(fake_openai: FakeOpenAI) -> None:
    fake_openai.latency_s = 0.05
    fake_openai.inject(Fault.slow(0.3), at=3)  # an early batch answers last
    texts = [f"configuration {i}" for i in range(200)]
    embedder = create_embedder(
        EmbeddingSettings(
            provider="openai",
            api_key=fake_openai.api_key,
            base_url=fake_openai.base_url,
            batch_size=10,
            max_concurrency=4,
        )
    )
    vectors = embedder.embed_documents(texts)
    assert fake_openai.requests == 20
    assert fake_openai.max_inputs_per_request == 10
    assert fake_openai.max_in_flight > 1
    assert_vectors(vectors, texts)


def test_dimensions_are_sent_and_honoured(fake_openai: FakeOpenAI) -> None:
    embedder = make(fake_openai, model="text-embedding-3-large", dimensions=256)
    assert embedder.dimension == 256 and embedder.id == "openai/text-embedding-3-large@256"
    vectors = embedder.embed_documents(["bucket in.c-sales", "flow nightly"])
    assert vectors.shape == (2, 256)
    assert fake_openai.log[-1].dimensions == 256
    assert_vectors(vectors, ["bucket in.c-sales", "flow nightly"], "text-embedding-3-large", 256)


@pytest.mark.parametrize(
    ("model", "dimension"),
    [("text-embedding-3-small", 1536), ("text-embedding-3-large", 3072), ("text-embedding-ada-002", 1536)],
)
def test_known_models_know_their_dimension_without_a_request(
    fake_openai: FakeOpenAI, model: str, dimension: int
) -> None:
    embedder = make(fake_openai, model=model)
    assert embedder.dimension == dimension
    assert embedder.id == f"openai/{model}@{dimension}"
    assert fake_openai.requests == 0


def test_ada_accepts_its_own_dimension_but_does_not_send_it(fake_openai: FakeOpenAI) -> None:
    embedder = make(fake_openai, model="text-embedding-ada-002", dimensions=1536)
    assert embedder.embed_documents(["x"]).shape == (1, 1536)
    assert fake_openai.log[-1].dimensions is None


def test_an_unknown_model_is_probed_once_for_its_dimension(fake_openai: FakeOpenAI) -> None:
    fake_openai.models["acme-embed"] = (384, False)
    embedder = make(fake_openai, model="acme-embed")
    assert embedder.dimension == 384
    assert embedder.id == "openai/acme-embed@384"
    assert embedder.dimension == 384
    assert fake_openai.requests == 1
    assert embedder.embed_documents(["a"]).shape == (1, 384)


def test_vectors_as_float_lists_from_gateways_are_accepted(fake_openai: FakeOpenAI) -> None:
    fake_openai.ignore_encoding_format = True
    embedder = make(fake_openai, dimensions=32)
    assert_vectors(embedder.embed_documents(["a", "b"]), ["a", "b"], dims=32)
    assert fake_openai.log[-1].encoding_format == "base64"


def test_empty_texts_embed_instead_of_failing_the_batch(fake_openai: FakeOpenAI) -> None:
    embedder = make(fake_openai, dimensions=8)
    assert embedder.embed_documents(["", "  ", "x"]).shape == (3, 8)
    assert embedder.embed_documents([]).shape == (0, 8)


# -- token counting and truncation -----------------------------------------------------------------


def test_tokens_are_counted_with_the_real_encoding() -> None:
    counter = TokenCounter()
    assert counter.exact, counter.source
    # cl100k_base: "hello world" is two tokens; a character guess would say 2.75.
    assert counter.count("hello world") == 2
    assert counter.count("<|endoftext|>") > 1  # user text, not a special token


def test_an_over_long_input_is_truncated_and_counted(fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    long_text = "revenue " * 12_000
    embedder = make(fake_openai, dimensions=8)
    with caplog.at_level(logging.WARNING):
        vectors = embedder.embed_documents(["short", long_text])
    assert vectors.shape == (2, 8)
    assert embedder.usage.truncated_inputs == 1
    assert fake_openai.max_tokens_per_input == MAX_TOKENS_PER_INPUT
    assert "truncated 1 of 2 inputs" in caplog.text
    truncated, count = token_counter().truncate(long_text, MAX_TOKENS_PER_INPUT)
    assert count == MAX_TOKENS_PER_INPUT and long_text.startswith(truncated)
    assert_vectors(vectors[1:], [truncated], dims=8)


def test_without_an_offline_encoding_bytes_bound_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    import tiktoken

    def unavailable(name: str) -> None:
        raise ValueError(f"no {name} here")

    monkeypatch.setattr(tiktoken, "get_encoding", unavailable)
    counter = TokenCounter()
    assert not counter.exact
    text = "kůň " * 50
    assert counter.count(text) == len(text.encode()) >= token_counter().count(text)
    cut, count = counter.truncate(text, 9)
    assert count <= 9 and text.startswith(cut)


def test_truncating_multibyte_text_never_splits_a_character() -> None:
    text = "žluťoučký kůň 🐴 " * 3000
    cut, count = token_counter().truncate(text, 100)
    assert count <= 100 and text.startswith(cut) and "\ufffd" not in cut


def test_an_over_long_input_fails_clearly_when_truncation_is_off(fake_openai: FakeOpenAI) -> None:
    embedder = make(fake_openai, truncate=False)
    with pytest.raises(EmbeddingError, match="input 1 has .* tokens, over the model's limit of 8191"):
        embedder.embed_documents(["ok", "word " * 9000])
    assert fake_openai.requests == 0


def test_a_gateway_with_a_lower_token_limit_fails_with_one_clear_line(fake_openai: FakeOpenAI) -> None:
    embedder = make(fake_openai, max_tokens_per_input=20_000)
    with pytest.raises(EmbeddingError) as raised:
        embedder.embed_documents(["word " * 9000])
    assert "token limit (400)" in raised.value.one_line()
    assert "maximum context length is 8192" in raised.value.one_line()
    assert fake_openai.requests == 1


# -- transient failures are retried ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "least_wait_s"),
    [
        (Fault.rate_limit(retry_after_s=0.3), 0.3),
        (Fault.rate_limit(retry_after_s=30, retry_after_ms=200), 0.2),  # the precise header wins
    ],
    ids=["retry-after", "retry-after-ms"],
)
def test_rate_limit_waits_as_told_then_succeeds(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture, fault: Fault, least_wait_s: float
) -> None:
    fake_openai.inject(fault)
    embedder = make(fake_openai, dimensions=8)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        vectors = embedder.embed_documents(["a", "b"])
    elapsed = time.monotonic() - started
    assert least_wait_s <= elapsed < 5
    assert_vectors(vectors, ["a", "b"], dims=8)
    assert fake_openai.requests == 2 and embedder.usage.retries == 1 and embedder.usage.requests == 2
    assert "rate limited (429); retry 1" in caplog.text


@pytest.mark.parametrize(
    "fault",
    [Fault.server_error(500), Fault.server_error(503), Fault.dropped()],
    ids=["500", "503", "dropped-connection"],
)
def test_server_errors_and_dropped_connections_are_retried(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture, fault: Fault
) -> None:
    fake_openai.inject(fault)
    embedder = make(fake_openai, dimensions=8)
    with caplog.at_level(logging.WARNING):
        vectors = embedder.embed_documents(["a", "b"])
    assert_vectors(vectors, ["a", "b"], dims=8)
    assert fake_openai.requests == 2 and embedder.usage.retries == 1
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_a_timed_out_request_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.inject(Fault.slow(2.0))
    embedder = make(fake_openai, dimensions=8, timeout_s=0.3)
    started = time.monotonic()
    assert embedder.embed_documents(["a"]).shape == (1, 8)
    assert time.monotonic() - started < 1.5
    assert embedder.usage.retries == 1


def test_retries_give_up_at_the_deadline(fake_openai: FakeOpenAI) -> None:
    fake_openai.persistent_fault = Fault.server_error(502)
    embedder = make(fake_openai, deadline_s=0.5)
    started = time.monotonic()
    with pytest.raises(EmbeddingError) as raised:
        embedder.embed_documents(["a"])
    assert time.monotonic() - started < 1.5
    assert "server error (502); gave up after" in raised.value.one_line()
    assert embedder.usage.retries >= 2 and embedder.usage.retries == fake_openai.requests - 1


def test_quota_exhaustion_is_not_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.inject(Fault.rate_limit(retry_after_s=0.01, code="insufficient_quota"))
    with pytest.raises(EmbeddingError, match=r"quota exceeded \(429\)"):
        make(fake_openai).embed_documents(["a"])
    assert fake_openai.requests == 1


def test_a_fatal_error_in_one_concurrent_batch_stops_the_call(fake_openai: FakeOpenAI) -> None:
    fake_openai.latency_s = 0.02
    fake_openai.inject(Fault(status=403, message="Project does not have access to model"), at=4)
    embedder = make(fake_openai, dimensions=8, max_inputs_per_request=5, max_concurrency=4)
    started = time.monotonic()
    with pytest.raises(EmbeddingError, match=r"denied access \(403\)"):
        embedder.embed_documents([f"t{i}" for i in range(200)])
    assert time.monotonic() - started < 2
    assert fake_openai.requests < 40


# -- bad input fails at once with one line ---------------------------------------------------------


def test_a_wrong_key_fails_at_once_without_leaking_it(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-proj-wrong-secret-abcdef123456"
    embedder = make(fake_openai, api_key=secret, max_concurrency=4)
    with caplog.at_level(logging.DEBUG), pytest.raises(EmbeddingError) as raised:
        embedder.embed_documents([f"t{i}" for i in range(5000)])
    error = raised.value
    assert error.exit_code == 8
    line = error.one_line()
    assert line.startswith("OpenAI rejected the API key (401): Incorrect API key provided")
    assert "set OPENAI_API_KEY to a valid key" in line and "\n" not in line
    assert fake_openai.requests == 1
    for text in (line, str(error), repr(error), caplog.text, repr(embedder), str(error.__cause__)):
        assert secret not in text


def test_the_key_never_appears_in_retry_logs(fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    fake_openai.inject(Fault.rate_limit(retry_after_ms=10))
    fake_openai.inject(Fault.dropped())
    settings = EmbeddingSettings(provider="openai", api_key=fake_openai.api_key, base_url=fake_openai.base_url)
    with caplog.at_level(logging.DEBUG):
        make(fake_openai).embed_documents(["a"])
    assert "retry 2" in caplog.text
    assert fake_openai.api_key not in caplog.text
    assert fake_openai.api_key not in repr(settings)


def test_an_unknown_model_fails_naming_it(fake_openai: FakeOpenAI) -> None:
    embedder = make(fake_openai, model="text-embedding-9-huge")
    with pytest.raises(EmbeddingError) as raised:
        embedder.embed_documents(["a", "b"])
    line = raised.value.one_line()
    assert "OpenAI model 'text-embedding-9-huge' not found (404)" in line
    assert "text-embedding-3-small" in line
    assert fake_openai.requests == 1


@pytest.mark.parametrize(
    ("model", "dimensions", "message"),
    [
        ("text-embedding-3-small", 2000, "supports at most 1536 dimensions"),
        ("text-embedding-3-large", 4000, "supports at most 3072 dimensions"),
        ("text-embedding-ada-002", 512, "fixed dimension of 1536"),
        ("text-embedding-3-small", 0, "must be a positive number"),
    ],
)
def test_unsupported_dimensions_fail_before_any_request(
    fake_openai: FakeOpenAI, model: str, dimensions: int, message: str
) -> None:
    settings = EmbeddingSettings(
        provider="openai",
        model=model,
        dimensions=dimensions,
        api_key=fake_openai.api_key,
        base_url=fake_openai.base_url,
    )
    with pytest.raises(ConfigError, match=message) as raised:
        create_embedder(settings)
    assert raised.value.exit_code == 3
    assert fake_openai.requests == 0


def test_dimensions_a_gateway_model_rejects_fail_with_the_api_message(fake_openai: FakeOpenAI) -> None:
    fake_openai.models["acme-embed"] = (384, False)
    with pytest.raises(EmbeddingError, match=r"rejected dimensions=128 for model acme-embed \(400\)"):
        make(fake_openai, model="acme-embed", dimensions=128).embed_documents(["a"])


@pytest.mark.parametrize("key", [None, ""])
def test_a_missing_key_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set") as raised:
        create_embedder(EmbeddingSettings(provider="openai", api_key=key))
    assert raised.value.exit_code == 3
