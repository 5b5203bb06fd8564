"""The media source: a plain threaded HTTP server on 127.0.0.1 serving files from a directory.

``python -m bench._source PORT DIR``. The body goes out with ``sendfile``, so the source
costs next to no CPU and never limits what it feeds: the relay's figures measure what
receives the bytes, not this server.
"""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm"}


def serve(port: int, root: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            name = self.path.split("?", 1)[0].lstrip("/")
            path = (root / name).resolve()
            if root not in path.parents or not path.is_file():
                self.send_error(404)
                return
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                self.send_response(200)
                self.send_header("Content-Type", TYPES.get(path.suffix, "application/octet-stream"))
                self.send_header("Content-Length", str(size))
                self.end_headers()
                self.wfile.flush()
                try:
                    self.connection.sendfile(fh)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), Path(sys.argv[2]).resolve())
