# SPDX-License-Identifier: LGPL-2.1-or-later
"""A local stand-in for the Hugging Face hub, for tests without a network: the URL layout and
headers heed relies on, as huggingface_hub sees them.

  GET /api/models/OWNER/NAME/revision/REV?blobs=true   the commit and each file's hash
  GET /OWNER/NAME/resolve/COMMIT/FILE                  small files directly (ETag: git blob
                                                       SHA-1); LFS files (*.safetensors) by a
                                                       302 to /cdn/SHA256 (X-Linked-Etag,
                                                       X-Linked-Size, X-Repo-Commit)
  GET /cdn/SHA256                                      the bytes, with Range support

Faults for tests: cut_after (the next LFS transfer stops after that many bytes, once),
corrupt (every LFS transfer has one byte flipped). requests records (path, Range header)."""
import hashlib
import http.server
import json
import os
import re
import threading


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, files):
        self.files = files  # name -> bytes
        self.commit = hashlib.sha1(b"".join(sorted(
            hashlib.sha256(n.encode() + d).digest() for n, d in files.items()))).hexdigest()

    def lfs(self, name):
        return name.endswith((".safetensors", ".bin"))


class HubServer:
    def __init__(self):
        self.repos = {}  # "owner/name" -> Repo
        self.blobs = {}  # sha256 -> bytes
        self.requests = []
        self.cut_after = None
        self.corrupt = False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a client that hangs up (curl, done with a keep-alive connection)

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                try:
                    server.handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add(self, repo_id, files):
        repo = Repo(files)
        self.repos[repo_id] = repo
        for name, data in files.items():
            if repo.lfs(name):
                self.blobs[hashlib.sha256(data).hexdigest()] = data
        return repo.commit

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def send(self, h, status, body=b"", headers=None, length=None):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body) if length is None else length))
        h.end_headers()
        h.wfile.write(body)

    def handle(self, h):
        path = h.path.split("?")[0]
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/([^/]+)", path)
        if m:
            repo = self.repos.get(m.group(1))
            if not repo:
                return self.send(h, 401, b'{"error":"Repository Not Found"}')
            if m.group(2) not in ("main", repo.commit):
                return self.send(h, 404, b'{"error":"Revision Not Found"}')
            siblings = []
            for name, data in repo.files.items():
                s = {"rfilename": name, "size": len(data), "blobId": git_blob_sha1(data)}
                if repo.lfs(name):
                    s["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                                "pointerSize": 134}
                siblings.append(s)
            body = json.dumps({"id": m.group(1), "sha": repo.commit, "siblings": siblings})
            return self.send(h, 200, body.encode(), {"Content-Type": "application/json"})
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            repo = self.repos.get(m.group(1))
            if not repo or m.group(2) not in ("main", repo.commit) or m.group(3) not in repo.files:
                return self.send(h, 404, b"Entry not found")
            data = repo.files[m.group(3)]
            common = {"X-Repo-Commit": repo.commit}
            if repo.lfs(m.group(3)):
                sha = hashlib.sha256(data).hexdigest()
                return self.send(h, 302, b"", dict(common, **{
                    "Location": f"/cdn/{sha}", "X-Linked-Etag": f'"{sha}"',
                    "X-Linked-Size": str(len(data)), "ETag": f'"{git_blob_sha1(data)}"'}))
            return self.send(h, 200, data, dict(common, ETag=f'"{git_blob_sha1(data)}"'))
        m = re.fullmatch(r"/cdn/([0-9a-f]{64})", path)
        if m and m.group(1) in self.blobs:
            data = self.blobs[m.group(1)]
            if self.corrupt:
                data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
            start, status, headers = 0, 200, {"Accept-Ranges": "bytes"}
            r = re.fullmatch(r"bytes=(\d+)-", h.headers.get("Range") or "")
            if r:
                start, status = int(r.group(1)), 206
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            body = data[start:]
            if self.cut_after is not None:  # promise the whole body, send part, hang up
                cut, self.cut_after = self.cut_after, None
                self.send(h, status, body[:cut], headers, length=len(body))
                h.close_connection = True
                return
            return self.send(h, status, body, headers)
        self.send(h, 404, b"not found")
