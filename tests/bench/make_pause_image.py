#!/usr/bin/python3
"""Builds the pause image the benchmark gives containerd as its sandbox_image.

  make_pause_image.py --pause <build>/cri/pause/deckhand-pause --out pause-oci.tar

An OCI image layout tar with one gzip layer holding deckhand-pause (static) as
/pause, entrypoint ["/pause"], named deckhand.bench/pause:latest. No registry
is reachable from our machines, so containerd gets it through `ctr images
import`. Both runtimes then hold their pods' namespaces with the same binary.

Only the standard library: it builds on a bare Debian. Deterministic (fixed
mtimes), so that the digest changes only when deckhand-pause does.
"""
import argparse
import gzip
import hashlib
import io
import json
import tarfile

MTIME = 1700000000
CREATED = "2023-11-14T22:13:20Z"
REF_NAME = "deckhand.bench/pause:latest"


def tar_info(name, kind, mode, size=0):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.size = size
    ti.mtime = MTIME
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def add_file(tar, name, data, mode=0o644):
    tar.addfile(tar_info(name, tarfile.REGTYPE, mode, len(data)), io.BytesIO(data))


def pause_layer(pause_path):
    with open(pause_path, "rb") as f:
        data = f.read()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add_file(tar, "pause", data, 0o755)
    return buf.getvalue()


def gzip_bytes(data):
    out = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=out, mode="wb", mtime=0) as g:
        g.write(data)
    return out.getvalue()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def jbytes(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def descriptor(media_type, data):
    return {"mediaType": media_type, "digest": digest(data), "size": len(data)}


def write_image(out, layer):
    gz = gzip_bytes(layer)
    cfg = jbytes({
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {"Entrypoint": ["/pause"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
        "history": [{"created": CREATED, "created_by": "make_pause_image.py"}],
    })
    manifest = jbytes({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", cfg),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", gz)],
    })
    entry = descriptor("application/vnd.oci.image.manifest.v1+json", manifest)
    entry["platform"] = {"architecture": "amd64", "os": "linux"}
    entry["annotations"] = {"org.opencontainers.image.ref.name": REF_NAME}
    index = jbytes({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry],
    })
    blobs = {digest(b): b for b in (gz, cfg, manifest)}
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        add_file(tar, "oci-layout", jbytes({"imageLayoutVersion": "1.0.0"}))
        add_file(tar, "index.json", index)
        tar.addfile(tar_info("blobs", tarfile.DIRTYPE, 0o755))
        tar.addfile(tar_info("blobs/sha256", tarfile.DIRTYPE, 0o755))
        for d in sorted(blobs):
            add_file(tar, "blobs/sha256/" + d.split(":")[1], blobs[d])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pause", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    write_image(args.out, pause_layer(args.pause))


if __name__ == "__main__":
    main()
