"""The threaded loopback HTTP server the stand-ins for outside services are built on."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Optional, Type, TypeVar

Self = TypeVar("Self", bound="LocalServer")


class LocalServer:
    """Serves ``handler`` on ``127.0.0.1`` (a free port) from a daemon thread.

    Subclasses record what arrives under :attr:`cond` and wait on it. Use it as a
    context manager or call :meth:`close`.
    """

    def __init__(self, handler: Type[BaseHTTPRequestHandler], name: str) -> None:
        self.cond = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True, name=name)
        self.thread.start()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        """Stops the server and frees its port."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self: Self) -> Self:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not log every request to stderr."""

    def log_message(self, *args: object) -> None:
        """Silences the default access log."""
