#!/usr/bin/env python3
"""Pushes N small images (a random 1 KiB layer and a config each) to a plain-http registry
on loopback, as REPO:i1 ... REPO:iN, over one keep-alive connection.

    bench/fleet.py HOST:PORT REPO N"""
import hashlib
import http.client
import json
import os
import sys

addr, repo, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
assert addr.split(":")[0] in ("127.0.0.1", "localhost"), "loopback only"
conn = http.client.HTTPConnection(addr)


def call(method, path, body=b"", headers=None, ok=(200, 201, 202)):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    r.read()
    if r.status not in ok:
        sys.exit(f"{method} {path}: {r.status}")
    return r


def blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    loc = call("POST", f"/v2/{repo}/blobs/uploads/").getheader("Location")
    loc = loc[loc.index("/v2/"):]
    sep = "&" if "?" in loc else "?"
    call("PUT", f"{loc}{sep}digest={d}", data, {"Content-Type": "application/octet-stream"})
    return {"size": len(data), "digest": d}


for i in range(1, n + 1):
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                      "config": {"Labels": {"n": str(i)}}}).encode()
    c = dict(blob(cfg), mediaType="application/vnd.oci.image.config.v1+json")
    layer = dict(blob(os.urandom(1024)), mediaType="application/vnd.oci.image.layer.v1.tar")
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": c, "layers": [layer]}).encode()
    call("PUT", f"/v2/{repo}/manifests/i{i}", m, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
