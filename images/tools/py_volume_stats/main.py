"""py_volume_stats: line, word and byte counts of a file in the granted `workspace` volume.

The volume is bind-mounted read-only at /mnt/workspace; nothing else of the
host is visible, so the path check below is for clear errors, not the boundary.
"""
import json
import os
import sys

ROOT = "/mnt/workspace"


def run(data):
    rel = data["path"]
    path = os.path.realpath(os.path.join(ROOT, rel))
    if path != ROOT and not path.startswith(ROOT + "/"):
        raise ValueError("path %r is outside the workspace volume" % rel)
    if os.path.isdir(path):
        return {"path": rel, "entries": sorted(os.listdir(path))}
    with open(path, "rb") as f:
        raw = f.read(8 * 1024 * 1024)
    text = raw.decode("utf-8", errors="replace")
    return {"path": rel, "bytes": len(raw), "lines": text.count("\n"), "words": len(text.split())}


def main():
    request = json.loads(sys.stdin.readline())
    try:
        result = {"output": run(request["input"])}
    except Exception as exc:
        result = {"error": {"message": "%s: %s" % (type(exc).__name__, exc)}}
    sys.stdout.write(json.dumps(result, separators=(",", ":")))


main()
