#!/usr/bin/python3
"""Builds the pause image the benchmark gives containerd as its sandbox_image.

  make_pause_image.py --pause <build>/cri/pause/deckhand-pause --out pause-oci.tar

An OCI image layout tar with one gzip layer holding deckhand-pause (static) as
/pause, entrypoint ["/pause"], named deckhand.bench/pause:latest. No registry
is reachable from our machines, so containerd gets it through `ctr images
import`. Both runtimes then hold their pods' namespaces with the same binary.

The layout is written by the test fixtures' image writer (stdlib only,
deterministic), so the digest changes only when deckhand-pause does.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_busybox_image import LayerTar, write_oci  # noqa: E402

REF_NAME = "deckhand.bench/pause:latest"


def pause_layer(pause_path):
    with open(pause_path, "rb") as f:
        data = f.read()
    t = LayerTar()
    t.file("pause", data, 0o755)
    return t.bytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pause", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    write_oci(args.out, [pause_layer(args.pause)], REF_NAME, {"Entrypoint": ["/pause"]})


if __name__ == "__main__":
    main()
