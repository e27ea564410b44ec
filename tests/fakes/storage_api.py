"""A fake Keboola Storage API over real HTTP, serving a snapshot directory (the generated demo organisation).

The real `kbcstorage` client talks to it unmodified, so tests exercise the same requests, headers,
query strings and error bodies as production. Tests can inject faults (429 with Retry-After, 5xx, slow
answers, dropped connections) by route and ordinal, count requests, and swap the served directory.

    with FakeStorageApi(root) as api:
        api.add_fault("/tables", "status", status=503, times=2)
        ...  # point a client at api.url with a token from root/projects.json
        assert api.count("/tables") == 3
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import pytest

from keboola_vectorizer.demo_org import demo_snapshot_dir
from tests.fakes.storage_events import EventLog

PREFIX = "/v2/storage"

FaultKind = Literal["status", "slow", "drop"]


@dataclass
class Fault:
    """Misbehave on matching requests number `nth` .. `nth + times - 1` (1-based, counted per fault).

    `route` is a substring of the request path (e.g. "/tables"); `project_id` narrows it to one
    project's token. Kinds: "status" answers `status` (with Retry-After when given) and an API-shaped
    error body; "slow" sleeps `delay_s` and then answers normally; "drop" closes the connection unanswered.
    """

    route: str
    kind: FaultKind = "status"
    status: int = 500
    nth: int = 1
    times: int = 1
    retry_after: float | str | None = None
    delay_s: float = 0.0
    project_id: int | None = None
    body: dict[str, Any] | None = None
    seen: int = 0  # matching requests so far
    fired: int = 0  # how many of them it misbehaved on

    def matches(self, path: str, project_id: int | None) -> bool:
        return self.route in path and (self.project_id is None or self.project_id == project_id)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    token_present: bool = False
    project_id: int | None = None  # None when the token is missing or unknown
    fault: FaultKind | None = None  # the fault applied to this request, if any

    @property
    def include(self) -> list[str]:
        return [part for value in self.query.get("include", []) for part in value.split(",") if part]


def _error_body(message: str, code: str) -> dict[str, Any]:
    return {"error": message, "code": code, "status": "error", "exceptionId": f"exception-{uuid.uuid4().hex[:16]}"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeStorageApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or a dropped connection leaves a dead socket behind; that is the test.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeKeboolaStorageApi/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean; tests read `FakeStorageApi.requests` instead

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")

    def do_PUT(self) -> None:
        self.server.fake._handle(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.fake._handle(self, "DELETE")


class FakeStorageApi:
    """The fake server; start it with `with FakeStorageApi(root) as api:` or `.start()` / `.stop()`.

    `root` is read on every request, so a test may swap it (`api.root = copy`) or edit files in place.
    Set `echo_token = True` to make tokens/verify echo the caller's token, as some stacks do.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else demo_snapshot_dir()
        self.echo_token = False
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.events = EventLog(self)  # the events feed and edits that emit events (storage_events.py)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeStorageApi:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._stopping.clear()
        # A short poll keeps shutdown() (and so every fixture teardown) fast.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-storage-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes "slow" faults still sleeping
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeStorageApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeStorageApi is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- test controls ---------------------------------------------------------------------------

    def add_fault(
        self,
        route: str,
        kind: FaultKind = "status",
        *,
        status: int = 500,
        nth: int = 1,
        times: int = 1,
        retry_after: float | str | None = None,
        delay_s: float = 0.0,
        project_id: int | None = None,
        body: dict[str, Any] | None = None,
    ) -> Fault:
        """Misbehave on the `nth` (and the next `times - 1`) requests whose path contains `route`."""
        if kind not in ("status", "slow", "drop"):
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = Fault(route, kind, status, nth, times, retry_after, delay_s, project_id, body)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, oldest first (a copy: the server thread keeps appending)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def count(self, route: str = "", project_id: int | None = None) -> int:
        """Requests whose path contains `route` (and, when given, that carried `project_id`'s token)."""
        return sum(
            1 for r in self.requests if route in r.path and (project_id is None or r.project_id == project_id)
        )

    def projects(self) -> list[dict[str, Any]]:
        """The served root's projects.json (tokens included: tests need them to authenticate)."""
        return json.loads((self.root / "projects.json").read_text(encoding="utf-8"))

    def token_for(self, project_id: int) -> str:
        for project in self.projects():
            if int(project["id"]) == project_id:
                return str(project["token"])
        raise KeyError(project_id)

    # --- serving ---------------------------------------------------------------------------------

    def _project_for(self, token: str | None) -> int | None:
        if not token:
            return None
        try:
            projects = self.projects()
        except (OSError, ValueError):
            return None
        for project in projects:
            if project.get("token") == token:
                return int(project["id"])
        return None

    def _pick_fault(self, path: str, project_id: int | None) -> Fault | None:
        chosen: Fault | None = None
        with self._lock:
            for fault in self._faults:
                if not fault.matches(path, project_id):
                    continue
                fault.seen += 1
                if chosen is None and fault.nth <= fault.seen < fault.nth + fault.times:
                    fault.fired += 1
                    chosen = fault
        return chosen

    def _handle(self, handler: _Handler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query)
        token = handler.headers.get("X-StorageApi-Token")
        project_id = self._project_for(token)
        fault = self._pick_fault(path, project_id)
        with self._lock:
            self._requests.append(
                RecordedRequest(method, path, query, bool(token), project_id, fault.kind if fault else None)
            )

        if fault is not None:
            if fault.kind == "drop":
                handler.close_connection = True
                with contextlib.suppress(OSError):
                    handler.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault.kind == "slow":
                if self._stopping.wait(fault.delay_s):
                    return
            else:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                body = fault.body or _error_body(f"Fake fault: HTTP {fault.status}", f"fake.http{fault.status}")
                self._send(handler, fault.status, body, headers)
                return

        if method != "GET" and path.startswith(PREFIX + "/") and project_id is not None:
            # Writes change the served organisation and emit their events (tests/fakes/storage_events.py).
            length = int(handler.headers.get("Content-Length") or 0)
            raw = handler.rfile.read(length) if length else b""
            status, body = self.events.write(project_id, method, path[len(PREFIX) + 1:], raw,
                                             handler.headers.get("Content-Type") or "")
        else:
            status, body = self._route(method, path, query, token, project_id)
        self._send(handler, status, body)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], token: str | None, project_id: int | None
    ) -> tuple[int, Any]:
        if path == PREFIX:
            # The API index answers without a token.
            return 200, {"api": "storage", "documentation": "https://keboola.docs.apiary.io/", "components": []}
        if not path.startswith(PREFIX + "/"):
            return 404, _error_body(f"Route {path} not found", "notFound")
        if project_id is None:
            return 401, _error_body("Invalid access token", "storage.tokenInvalid")
        if method != "GET":
            return 405, _error_body(f"The fake Storage API does not serve {method} {path}", "methodNotAllowed")

        include = {part for value in query.get("include", []) for part in value.split(",") if part}
        route = path[len(PREFIX) + 1 :]
        folder = self.root / str(project_id)
        if route == "tokens/verify":
            data = self._load(folder / "tokens-verify.json")
            if isinstance(data, dict) and self.echo_token:
                data = {**data, "token": token}
            return (200, data) if data is not None else self._missing(path)
        if route == "dev-branches":
            data = self._load(folder / "dev-branches.json")
            return (200, data) if data is not None else self._missing(path)
        if route == "buckets":
            data = self._load(folder / "buckets.json")
            if data is None:
                return self._missing(path)
            return 200, [_without(b, {"metadata"} - include) for b in data]
        if route == "tables":
            data = self._load(folder / "tables.json")
            if data is None:
                return self._missing(path)
            # The real API leaves out what `include` does not ask for; so must the fake, or a client
            # that forgets an include would pass here and miss columns in production.
            dropped = {"columns", "metadata", "columnMetadata"} - include
            if "buckets" not in include:
                dropped.add("bucket")
            return 200, [_without(t, dropped) for t in data]
        branch_route = route.split("/")
        if route == "events" or (len(branch_route) == 3 and branch_route[0] == "branch"
                                 and branch_route[2] == "events"):
            return self.events.answer(project_id, query)
        if route == "components" or (
            len(branch_route) == 3 and branch_route[0] == "branch" and branch_route[2] == "components"
        ):
            if route != "components" and branch_route[1] not in self._default_branch_ids(folder):
                return 404, _error_body(f"Branch {branch_route[1]} not found", "storage.branchNotFound")
            data = self._load(folder / "components.json")
            if data is None:
                return self._missing(path)
            return 200, [_component(c, include) for c in data]
        return self._missing(path)

    def _default_branch_ids(self, folder: Path) -> set[str]:
        branches = self._load(folder / "dev-branches.json") or []
        return {"default"} | {str(b["id"]) for b in branches if isinstance(b, dict) and b.get("isDefault")}

    @staticmethod
    def _load(file: Path) -> Any:
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    @staticmethod
    def _missing(path: str) -> tuple[int, Any]:
        return 404, _error_body(f"Route {path} not found", "notFound")

    @staticmethod
    def _send(handler: _Handler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if status == 204 else json.dumps(body, indent=1, ensure_ascii=False).encode("utf-8") + b"\n"
        try:
            handler.send_response(status)
            if payload:  # a 204 (a delete) has no body and so no content type
                handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass  # the client gave up (timeout) before the answer came


def _without(item: Any, keys: set[str]) -> Any:
    if not isinstance(item, dict) or not keys:
        return item
    return {k: v for k, v in item.items() if k not in keys}


def _component(component: Any, include: set[str]) -> Any:
    if not isinstance(component, dict):
        return component
    dropped = {"configuration"} - include
    if "rows" not in include:
        dropped.add("rows")
    configurations = [_without(c, dropped) for c in component.get("configurations") or []]
    return {**component, "configurations": configurations}


@pytest.fixture
def storage_api() -> Iterator[FakeStorageApi]:
    """A started fake serving the generated demo organisation (set `.root` to serve a modified copy)."""
    with FakeStorageApi(demo_snapshot_dir()) as api:
        yield api
