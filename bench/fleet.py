#!/usr/bin/env python3
"""Pushes N small images (a random 1 KiB layer and a config each) to a plain-http registry
on loopback, as REPO:i1 ... REPO:iN, over one keep-alive connection.

    bench/fleet.py HOST:PORT REPO N
    bench/fleet.py HOST:PORT REPO N --attached KEY.pem [--sbom-kib K]

With --attached, each image also gets what `cosign sign`, `cosign attest` and `cosign
attach sbom` leave, in their legacy tags: a `.sig` (simple-signing payload, ECDSA P-256
signature annotation), an `.att` (a DSSE envelope of an in-toto SLSA provenance statement,
signed over its PAE) and an `.sbom` (an SPDX JSON document of about K KiB, default 2), each
with its own cosign-style config. The signing key is written to KEY.pem (PKCS#8) and its
public key to KEY.pem.pub, so `audit --key KEY.pem.pub` can check the signatures."""
import argparse
import base64
import hashlib
import http.client
import json
import os
import sys

ap = argparse.ArgumentParser()
ap.add_argument("addr")
ap.add_argument("repo")
ap.add_argument("n", type=int)
ap.add_argument("--attached", metavar="KEY.pem")
ap.add_argument("--sbom-kib", type=int, default=2)
args = ap.parse_args()
addr, repo, n = args.addr, args.repo, args.n
assert addr.split(":")[0] in ("127.0.0.1", "localhost"), "loopback only"
conn = http.client.HTTPConnection(addr)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def call(method, path, body=b"", headers=None, ok=(200, 201, 202)):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    r.read()
    if r.status not in ok:
        sys.exit(f"{method} {path}: {r.status}")
    return r


def blob(data, media_type):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    loc = call("POST", f"/v2/{repo}/blobs/uploads/").getheader("Location")
    loc = loc[loc.index("/v2/"):]
    sep = "&" if "?" in loc else "?"
    call("PUT", f"{loc}{sep}digest={d}", data, {"Content-Type": "application/octet-stream"})
    return {"mediaType": media_type, "size": len(data), "digest": d}


def manifest(tag, config, layers):
    # Compact, fields in the order cosign's Go structs write them.
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers},
                   separators=(",", ":")).encode()
    call("PUT", f"/v2/{repo}/manifests/{tag}", m, {"Content-Type": OCI_MANIFEST})
    return "sha256:" + hashlib.sha256(m).hexdigest()


def cosign_config(layer_bytes):
    # What cosign writes as the config of a .sig/.att/.sbom manifest: the layer's diff_id.
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    return json.dumps({"architecture": "", "created": "0001-01-01T00:00:00Z",
                       "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                       "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "config": {}},
                      separators=(",", ":")).encode()


key = None
if args.attached:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    with open(args.attached, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(args.attached + ".pub", "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))


def sign(data):
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def attach(tag, layer_bytes, media_type, annotations):
    layer = dict(blob(layer_bytes, media_type), annotations=annotations)
    manifest(tag, blob(cosign_config(layer_bytes), OCI_CONFIG), [layer])


for i in range(1, n + 1):
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                      "config": {"Labels": {"n": str(i)}}}).encode()
    image = manifest(f"i{i}", blob(cfg, OCI_CONFIG), [blob(os.urandom(1024), "application/vnd.oci.image.layer.v1.tar")])
    if key is None:
        continue
    hexd = image.split(":")[1]
    ref = f"{addr}/{repo}"
    payload = json.dumps({"critical": {"identity": {"docker-reference": ref}, "image": {"docker-manifest-digest": image},
                                       "type": "cosign container image signature"}, "optional": None},
                         separators=(",", ":")).encode()
    attach(f"sha256-{hexd}.sig", payload, "application/vnd.dev.cosign.simplesigning.v1+json",
           {"dev.cosignproject.cosign/signature": sign(payload)})
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1",
                            "predicateType": "https://slsa.dev/provenance/v0.2",
                            "subject": [{"name": ref, "digest": {"sha256": hexd}}],
                            "predicate": {"builder": {"id": "https://ci.example/builder"}, "buildType": "https://ci.example/build",
                                          "invocation": {"configSource": {"uri": f"git+https://git.example/app@refs/tags/v{i}",
                                                                          "digest": {"sha1": os.urandom(20).hex()}}},
                                          "metadata": {"buildStartedOn": "2026-12-01T00:00:00Z", "completeness": {}},
                                          "materials": [{"uri": "git+https://git.example/app", "digest": {"sha1": os.urandom(20).hex()}}]}},
                           separators=(",", ":")).encode()
    ptype = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(statement), statement)
    envelope = json.dumps({"payloadType": ptype, "payload": base64.b64encode(statement).decode(),
                           "signatures": [{"keyid": "", "sig": sign(pae)}]}, separators=(",", ":")).encode()
    attach(f"sha256-{hexd}.att", envelope, "application/vnd.dsse.envelope.v1+json",
           {"dev.cosignproject.cosign/signature": "", "predicateType": "https://slsa.dev/provenance/v0.2"})
    packages, size = [], 0
    while size < args.sbom_kib * 1024:
        p = {"SPDXID": f"SPDXRef-Package-{len(packages)}", "name": f"pkg{len(packages)}", "versionInfo": f"1.{i}.{len(packages)}",
             "downloadLocation": "NOASSERTION", "checksums": [{"algorithm": "SHA256", "checksumValue": os.urandom(32).hex()}]}
        packages.append(p)
        size += len(json.dumps(p))
    sbom = json.dumps({"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
                       "name": f"{ref}:i{i}", "documentNamespace": f"https://sbom.example/{hexd}",
                       "creationInfo": {"created": "2026-12-01T00:00:00Z", "creators": ["Tool: fleet.py"]},
                       "packages": packages}).encode()
    attach(f"sha256-{hexd}.sbom", sbom, "text/spdx+json", {})
