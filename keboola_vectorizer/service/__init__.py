"""The search service: one warm process holding the model and the store, for people (a page at `/`)
and programs (a JSON API under `/api`, MCP at `/mcp`). `app.create_app` builds it; `command.serve`
runs it under uvicorn."""
