"""A tiny local HTTP server that speaks the part of the Hugging Face Hub API huggingface_hub uses
to fetch a config.json and read safetensors headers, bound to 127.0.0.1 only.

What huggingface_hub 2.x sends (read from its file_download.py and hf_api.py):
- HEAD {endpoint}/{repo}/resolve/{revision}/{file}: metadata; it needs X-Repo-Commit, ETag and
  Content-Length; errors carry X-Error-Code (RepoNotFound, EntryNotFound, GatedRepo).
- GET of the same URL: the file; with `Range: bytes=a-b` (safetensors headers) a 206 with that slice.
Every request is counted so that a test can bound them; the server stops with the test.
"""
from __future__ import annotations

import hashlib
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def safetensors_bytes(tensors: dict[str, tuple[str, list[int]]]) -> bytes:
    """A valid safetensors file (zero-filled data) holding `tensors`: name -> (dtype, shape)."""
    width = {"F32": 4, "BF16": 2, "F16": 2, "I32": 4, "U8": 1, "I8": 1, "F8_E4M3": 1, "I64": 8}
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = width[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + bytes(offset)


class FakeHub:
    """repos: {repo_id: {filename: bytes}}; gated: repo ids answering 401 GatedRepo."""

    def __init__(self, repos: dict[str, dict[str, bytes]], gated=()):
        self.repos, self.gated, self.requests = repos, set(gated), []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _answer(self, body: bool):
                hub.requests.append((self.command, self.path, self.headers.get("Range")))
                parts = self.path.split("?")[0].strip("/").split("/")
                # {org}/{name}/resolve/{revision}/{file...}
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._error(404, "RepoNotFound")
                repo, filename = "/".join(parts[:2]), "/".join(parts[4:])
                if repo in hub.gated:
                    return self._error(401, "GatedRepo")
                if repo not in hub.repos:
                    return self._error(401, "RepoNotFound")  # the Hub's answer for unknown or private repos
                files = hub.repos[repo]
                if filename not in files:
                    return self._error(404, "EntryNotFound")
                data = files[filename]
                status, chunk = 200, data
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    a, _, b = rng[6:].partition("-")
                    a, b = int(a), min(int(b) if b else len(data) - 1, len(data) - 1)
                    status, chunk = 206, data[a:b + 1]
                self.send_response(status)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", '"' + hashlib.sha1(data).hexdigest() + '"')
                self.send_header("Content-Length", str(len(chunk)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {a}-{b}/{len(data)}")
                self.end_headers()
                if body:
                    self.wfile.write(chunk)

            def _error(self, status: int, code: str):
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
