"""A real HTTP receiver of webhooks for the tests: a local ``http.server`` in a thread that
records every request and answers the statuses it is told, in turn (then 200)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    always: int | None = None  # answered to everything when set
    arrived: threading.Condition = field(default_factory=threading.Condition)
    #: set: requests after the first ``hold_after`` wait for ``release`` before they are answered
    hold_after: int | None = None
    release: threading.Event = field(default_factory=threading.Event)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # (5 by default: connections refused under a worker's load)


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # its headers and body are two writes: no delayed ACKs

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            with state.arrived:
                state.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = state.always or (state.statuses.pop(0) if state.statuses else 200)
                held = state.hold_after is not None and len(state.requests) > state.hold_after
                state.arrived.notify_all()
            if held:
                state.release.wait(30)
            try:
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender is gone (a killed worker)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
