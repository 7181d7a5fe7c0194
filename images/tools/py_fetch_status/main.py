"""py_fetch_status: GETs a URL and reports its status and size.

The container has no route out and resolves no names: urllib sends the request
to the warden egress proxy (HTTP_PROXY / HTTPS_PROXY, set by warden), which
checks the host against the tool's granted allowlist and addresses.
"""
import json
import sys
import urllib.error
import urllib.request


def run(data):
    url = data["url"]
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read(1024 * 1024)
            return {"status": response.status, "bytes": len(body), "contentType": response.headers.get("content-type")}
    except urllib.error.HTTPError as err:
        # 403 from the proxy: the host is not granted (its reason is in the body).
        reason = err.read(2000).decode("utf-8", errors="replace").strip()
        return {"status": err.code, "bytes": 0, "contentType": None, "refused": reason if err.code == 403 else None}


def main():
    request = json.loads(sys.stdin.readline())
    try:
        result = {"output": run(request["input"])}
    except Exception as exc:
        result = {"error": {"message": "%s: %s" % (type(exc).__name__, exc)}}
    sys.stdout.write(json.dumps(result, separators=(",", ":")))


main()
