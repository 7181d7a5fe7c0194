"""py_word_freq: the most frequent words of a text (a container tool in plain Python).

Protocol (SPEC §4): one JSON line on stdin {"tool", "callId", "input"};
one JSON object on stdout {"output": ...} or {"error": {"message": ...}};
stderr lines are logs.
"""
import collections
import json
import re
import sys


def run(data):
    text = data["text"]
    top = int(data.get("top", 5))
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
    print("counted %d words" % len(words), file=sys.stderr)
    counts = collections.Counter(words).most_common(top)
    return {"words": len(words), "top": [{"word": w, "count": c} for w, c in counts]}


def main():
    request = json.loads(sys.stdin.readline())
    try:
        result = {"output": run(request["input"])}
    except Exception as exc:  # the message goes back to the caller as E_TOOL_FAILED
        result = {"error": {"message": "%s: %s" % (type(exc).__name__, exc)}}
    sys.stdout.write(json.dumps(result, separators=(",", ":")))


main()
