#!/usr/bin/env python3
"""A registry that keeps nothing, on loopback: it accepts every blob upload (reading and
discarding the body, checking nothing) and every manifest, and says nothing is present. For
measuring sealift's side of a load of a bundle too big to store (bench/scale.sh); it is not
a registry: no digest is checked, nothing can be pulled back.

    bench/sink_registry.py

Prints the port it listens on, then serves until killed."""
import hashlib
import http.server
import socketserver
import sys
import uuid


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def drain(self):
        left = int(self.headers.get("Content-Length") or 0)
        h = hashlib.sha256() if left < (4 << 20) else None
        while left:
            b = self.rfile.read(min(left, 1 << 20))
            if not b:
                break
            left -= len(b)
            if h:
                h.update(b)
        return h

    def answer(self, code, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.drain()
        self.answer(200 if self.path == "/v2/" else 404)

    def do_HEAD(self):
        self.answer(200 if self.path == "/v2/" else 404)

    def do_POST(self):
        self.drain()
        repo = self.path[len("/v2/"):].split("/blobs/uploads")[0]
        self.answer(202, [("Location", "/v2/%s/blobs/uploads/%s" % (repo, uuid.uuid4()))])

    def do_PUT(self):
        h = self.drain()
        if "/manifests/" in self.path:
            self.answer(201, [("Docker-Content-Digest", "sha256:" + h.hexdigest())] if h else [])
        else:
            self.answer(201)

    def do_PATCH(self):
        self.drain()
        self.answer(202)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Sink)
print(srv.server_address[1], flush=True)
srv.serve_forever()
