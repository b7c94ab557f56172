#!/usr/bin/env python3
"""Regenerates the evaluation corpus: `python3 tests/corpus/gen/gen.py` from the repository root.

Writes tests/corpus/attacks.jsonl and tests/corpus/benign.jsonl (one request per line, fields in a fixed order, stable
order: the generator is seeded, so a rerun produces identical files). The payloads and benign texts are
hand-written in attacks.py and benign_text.py; this script only combines them with placements and encodings.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen_attacks  # noqa: E402
import gen_benign  # noqa: E402

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def write(name, entries):
    ids = set()
    for e in entries:
        if e["id"] in ids:
            raise SystemExit("duplicate id %s" % e["id"])
        ids.add(e["id"])
        for k, v in e["headers"]:
            if "\r" in v or "\n" in v or "\r" in k or "\n" in k:
                raise SystemExit("%s: header %s contains a line break" % (e["id"], k))
        if any(c in e["target"] for c in " \r\n\t") or any(ord(c) > 126 for c in e["target"]):
            raise SystemExit("%s: target is not a valid request-target: %r" % (e["id"], e["target"]))
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for e in entries:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    print("%s: %d requests" % (path, len(entries)))


if __name__ == "__main__":
    write("attacks.jsonl", gen_attacks.generate())
    write("benign.jsonl", gen_benign.generate())
