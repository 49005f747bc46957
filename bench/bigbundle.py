#!/usr/bin/env python3
"""Writes a valid, unsigned sealift bundle (.tar) of one image with LAYERS layers of
LAYER_MIB MiB each to OUT (a FIFO, or - for stdout) without ever storing it: the layers are
AES-128-CTR keystreams (openssl enc over /dev/zero; incompressible, reproducible), so their
digests can be computed once (cached in DIGESTS, a JSON file) and the same bytes streamed
again. The tar is what `sealift save` writes for such an image: oci-layout, index.json,
the manifest and config, then the layers in manifest order.

    bench/bigbundle.py LAYERS LAYER_MIB OUT DIGESTS
    bench/bigbundle.py LAYERS LAYER_MIB --digests-only DIGESTS   # fill the cache, write nothing

Used by bench/scale.sh to measure sealift's memory over a 100 GiB bundle."""
import hashlib
import json
import os
import subprocess
import sys
import tarfile

layers, mib, out, cache = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
size = mib << 20
CHUNK = 4 << 20


def keystream(i):
    """The layer's bytes, from openssl, as an iterator of chunks."""
    key = "%032x" % (i + 1)
    p = subprocess.Popen(
        ["openssl", "enc", "-aes-128-ctr", "-nosalt", "-K", key, "-iv", "0" * 32, "-in", "/dev/zero"],
        stdout=subprocess.PIPE,
    )
    left = size
    try:
        while left:
            b = p.stdout.read(min(CHUNK, left))
            if not b:
                sys.exit("openssl ended early")
            left -= len(b)
            yield b
    finally:
        p.kill()
        p.wait()


digests = {}
if os.path.exists(cache):
    with open(cache) as f:
        digests = json.load(f)
for i in range(layers):
    k = "%d:%d" % (i, size)
    if k not in digests:
        h = hashlib.sha256()
        for b in keystream(i):
            h.update(b)
        digests[k] = h.hexdigest()
        with open(cache, "w") as f:
            json.dump(digests, f)
hexes = [digests["%d:%d" % (i, size)] for i in range(layers)]
if out == "--digests-only":
    sys.exit(0)

config = json.dumps(
    {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + h for h in hexes]}},
    separators=(",", ":"),
).encode()
manifest = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            "size": len(config),
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + h, "size": size} for h in hexes
        ],
    },
    separators=(",", ":"),
).encode()
md = hashlib.sha256(manifest).hexdigest()
repo = "127.0.0.1:5000/bench/huge"
index = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + md,
                "size": len(manifest),
                "annotations": {
                    "dev.sealift.repository": repo,
                    "dev.sealift.role": "image",
                    "dev.sealift.tag": "1",
                    "org.opencontainers.image.ref.name": repo + ":1",
                },
            }
        ],
    },
    separators=(",", ":"),
).encode()

sink = sys.stdout.buffer if out == "-" else open(out, "wb", buffering=0)


def entry(name, n, chunks):
    t = tarfile.TarInfo(name)
    t.size, t.mode, t.mtime = n, 0o644, 0
    sink.write(t.tobuf(format=tarfile.USTAR_FORMAT))
    for b in chunks:
        sink.write(b)
    if n % 512:
        sink.write(b"\0" * (512 - n % 512))


try:
    entry("oci-layout", 30, [b'{"imageLayoutVersion":"1.0.0"}'])
    entry("index.json", len(index), [index])
    entry("blobs/sha256/" + md, len(manifest), [manifest])
    entry("blobs/sha256/" + hashlib.sha256(config).hexdigest(), len(config), [config])
    for i, h in enumerate(hexes):
        entry("blobs/sha256/" + h, size, keystream(i))
    sink.write(b"\0" * 1024)
    sink.flush()
except BrokenPipeError:
    sys.exit("the reader stopped early")
