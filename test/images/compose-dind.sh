#!/usr/bin/env bash
# The documented check of compose.yaml (docs/deployment.md, "Option B"): the containerised warden —
# uid 10001, read-only root, no capabilities, no Docker socket — runs container tools in the dedicated
# Docker-in-Docker engine over mutual TLS, networked ones too: the egress proxy runs as warden's own
# container in the sidecar's engine (container.egress "container", the default with a TCP DOCKER_HOST).
#
#   bash test/images/compose-dind.sh [BUILD_ROOT]     (BUILD_ROOT: compiled output, default dist)
#   WARDEN_SERVER_IMAGE=warden/server:dev …           (the server image to run, default warden/server:1)
#
# Needs: a Docker engine, `docker compose` or docker-compose, `npm ci` and a build (npm run build).
# Not part of `npm test`: it needs a privileged sidecar and Compose, and takes a minute or two.
# On a host that cannot start privileged root containers at all (runc: "unable to apply caps"), it uses
# the test-only override test/images/compose.constrained-host.yaml and says so.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
BUILD_ROOT="$(cd "${1:-dist}" && pwd)"
NODE="$REPO/node_modules/node/bin/node"
MAIN="$BUILD_ROOT/src/cli/main.js"
PROJECT="warden-dind-check-$$"
TOOL_IMAGE="warden-test/compose-echo:1"
TOKEN="compose-check-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
say() { echo "compose-dind: $*"; }
[ -f "$MAIN" ] || { say "$MAIN missing: run npm run build (or pass the build root)"; exit 2; }

if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); elif command -v docker-compose >/dev/null; then COMPOSE=(docker-compose)
else say "needs docker compose or docker-compose (apt-get install docker-compose)"; exit 2; fi

SERVER_IMAGE="${WARDEN_SERVER_IMAGE:-warden/server:1}"
docker image inspect "$SERVER_IMAGE" >/dev/null 2>&1 || WARDEN_SERVER_IMAGE="$SERVER_IMAGE" bash images/warden/build.sh
docker image inspect warden/dind:1 >/dev/null 2>&1 || bash images/warden/dind/build.sh
WARDEN_DIST="$BUILD_ROOT" bash images/egress/build.sh   # warden/egress:1 from the same build

WORK="$(mktemp -d /tmp/warden-compose-check.XXXXXX)"
mkdir -p "$WORK"
printf 'services:\n  warden:\n    image: %s\n' "$SERVER_IMAGE" >"$WORK/compose.server.yaml"
FILES=(-f compose.yaml -f "$WORK/compose.server.yaml")
if ! docker run --rm --privileged --user 0 warden/base:1 true >/dev/null 2>&1; then
  say "WARNING: this host cannot start privileged root containers; using test/images/compose.constrained-host.yaml (test only)"
  FILES+=(-f test/images/compose.constrained-host.yaml)
fi
export WARDEN_CONFIG_DIR="$WORK/cfg"
WARDEN_PORT="$("$NODE" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export WARDEN_PORT
dc() { "${COMPOSE[@]}" "${FILES[@]}" -p "$PROJECT" "$@"; }
cleanup() {
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  docker image rm "$TOOL_IMAGE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say "tool image $TOOL_IMAGE (echo, or GET input.url through HTTP_PROXY, over the container protocol) on the host engine"
mkdir -p "$WORK/img"
cat >"$WORK/img/echo.py" <<'EOF'
import json, sys, urllib.request, urllib.error
req = json.loads(sys.stdin.readline())
inp = req["input"]
if "url" in inp:
    try:
        r = urllib.request.urlopen(inp["url"], timeout=10)
        out = {"status": r.status, "body": r.read().decode()}
    except urllib.error.HTTPError as e:
        out = {"status": e.code}
    except Exception as e:
        out = {"error": str(e)}
    sys.stdout.write(json.dumps({"output": out}))
else:
    sys.stdout.write(json.dumps({"output": {"echo": inp, "tool": req["tool"]}}))
EOF
printf 'FROM warden/base:1\nCOPY echo.py /app/echo.py\nUSER 65534:65534\nCMD ["python3", "/app/echo.py"]\n' >"$WORK/img/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q --network none -t "$TOOL_IMAGE" "$WORK/img" >/dev/null

say "config: word_stats (isolate), echo_box (container, no network), net_box (container with network)"
mkdir -p "$WORK/cfg/tools/echo_box" "$WORK/cfg/tools/net_box"
cp -r examples/tools/word_stats "$WORK/cfg/tools/"
container_manifest() { # name, extra JSON
  printf '{"name":"%s","version":"1.0.0","description":"compose check","runtime":"container","image":"%s","effect":"read","inputSchema":{"type":"object"},"limits":{"timeoutMs":60000,"memoryMb":64}%s}\n' "$1" "$TOOL_IMAGE" "$2"
}
container_manifest echo_box "" >"$WORK/cfg/tools/echo_box/manifest.json"
# The upstream runs in the sidecar's engine on the proxy's outbound network under this name (its address
# does not exist yet when the grant is approved); it resolves to a private address, hence allowPrivate.
UPSTREAM="http://upstream.compose-check:8080"
container_manifest net_box ",\"capabilities\":{\"network\":{\"allow\":[\"$UPSTREAM\"]}}" >"$WORK/cfg/tools/net_box/manifest.json"
SHA="$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)"
cat >"$WORK/cfg/warden.config.json" <<EOF
{ "tools": ["./tools/*"],
  "http": { "listen": "0.0.0.0:8787", "tokens": [{ "name": "ops", "sha256": "$SHA" }], "allowedHosts": ["127.0.0.1:$WARDEN_PORT"] },
  "grants": { "net_box": { "network": [{ "host": "$UPSTREAM", "allowPrivate": true }] } },
  "audit": { "file": "/var/lib/warden/audit.jsonl" } }
EOF
for t in word_stats echo_box net_box; do "$NODE" --no-node-snapshot "$MAIN" approve "$t" --yes --config "$WORK/cfg/warden.config.json" >/dev/null; done
chmod -R a+rX "$WORK/cfg"; chmod 755 "$WORK"

say "compose up dind (project $PROJECT)"
dc up -d dind >/dev/null
dind="$(dc ps -q dind)"
for _ in $(seq 1 120); do
  [ "$(docker inspect --format '{{.State.Health.Status}}' "$dind")" = healthy ] && break
  sleep 1
done
# Before warden starts: it reads each container tool's image ID at load (the approval binds it).
say "load $TOOL_IMAGE into the sidecar's engine (docker save | docker load; the image ID, and so the approval, is kept)"
docker save "$TOOL_IMAGE" | dc exec -T dind docker load >/dev/null
say "load warden/egress:1 into the sidecar's engine"
docker save warden/egress:1 | dc exec -T dind docker load >/dev/null
say "compose up warden (port 127.0.0.1:$WARDEN_PORT)"
dc up -d >/dev/null
warden="$(dc ps -q warden)"
for _ in $(seq 1 120); do
  [ "$(docker inspect --format '{{.State.Health.Status}}' "$warden")" = healthy ] && break
  sleep 1
done
[ "$(docker inspect --format '{{.State.Health.Status}}' "$warden")" = healthy ] || { docker logs "$warden" | tail -20; say "FAIL: warden not healthy"; exit 1; }

say "checks"
fail=0
check() { if [ "$2" = "$3" ]; then echo "  ok   $1"; else echo "  FAIL $1: got '$2', want '$3'"; fail=1; fi; }
check "warden runs as" "$(docker inspect --format '{{.Config.User}}' "$warden")" "10001:10001"
check "warden read-only root" "$(docker inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$warden")" "true"
check "warden privileged" "$(docker inspect --format '{{.HostConfig.Privileged}}' "$warden")" "false"
check "warden capabilities dropped" "$(docker inspect --format '{{.HostConfig.CapDrop}}' "$warden")" "[ALL]"
check "docker.sock mounts in warden" "$(docker inspect --format '{{range .Mounts}}{{.Source}} {{end}}' "$warden" | grep -c docker.sock || true)" "0"
# A TLS client without a client certificate (server certificate not even checked) must be refused by the
# engine during the handshake; the same request with warden's client certificate is the control (it proves
# name resolution and the network, so a refusal cannot come from them).
tls_probe() { # extra docker args...
  docker run --rm --network "${PROJECT}_engine" "$@" --entrypoint node warden/server:1 -e '
    const fs = require("fs"), withCert = fs.existsSync("/certs/client/key.pem");
    const opts = { host: "dind", port: 2376, path: "/version", timeout: 10000, rejectUnauthorized: withCert };
    if (withCert) for (const [k, f] of [["ca", "ca.pem"], ["cert", "cert.pem"], ["key", "key.pem"]]) opts[k] = fs.readFileSync("/certs/client/" + f);
    opts.agent = false; // no keep-alive: the probe exits as soon as it has its answer
    const done = (text) => { console.log(text); process.exit(0); };
    require("https").get(opts, (r) => done("answered " + r.statusCode))
      .on("timeout", () => done("unreachable timeout"))
      .on("error", (e) => done(["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT"].includes(e.code) ? "unreachable " + e.code : "tls-refused"))'
}
check "engine with warden's client certificate" "$(tls_probe -v "${PROJECT}_dind-certs-client:/certs/client:ro")" "answered 200"
check "engine without a client certificate" "$(tls_probe)" "tls-refused"

out="$(cd "$REPO" && "$NODE" --input-type=module -e '
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
const [url, token] = process.argv.slice(1);
const unauth = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
const c = new Client({ name: "compose-check", version: "1" });
await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
const tools = (await c.listTools()).tools.map((t) => t.name).sort().join(",");
const words = (await c.callTool({ name: "word_stats", arguments: { text: "a b a" } })).structuredContent?.words;
const echo = await c.callTool({ name: "echo_box", arguments: { msg: "hi" } });
const net = await c.callTool({ name: "net_box", arguments: { url: "http://evil.example/steal" } });
await c.close();
console.log([unauth.status, tools, words, JSON.stringify(echo.structuredContent?.echo ?? echo._meta?.["mcp-warden/error"]), net.structuredContent?.status ?? net._meta?.["mcp-warden/error"]?.code].join("|"));
' "http://127.0.0.1:$WARDEN_PORT/mcp" "$TOKEN")"
IFS='|' read -r unauth tools words echo net <<<"$out"
check "no token" "$unauth" "401"
check "tools/list" "$tools" "echo_box,net_box,word_stats"
check "isolate call (word_stats words)" "$words" "3"
check "container call in the sidecar (echo_box)" "$echo" '{"msg":"hi"}'
check "networked tool in the sidecar: a host outside its grant is refused by the proxy container" "$net" "403"
outnet="$(dc exec -T dind docker network ls --filter name=warden-out- --format '{{.Name}}' | tr -d '\r' | head -1)"
check "the proxy container runs in the sidecar's engine" "$(dc exec -T dind docker ps --filter name=warden-egress-proxy- --format '{{.Image}}' | tr -d '\r')" "warden/egress:1"
say "upstream on $outnet in the sidecar's engine, as upstream.compose-check"
dc exec -T dind docker run -d --name upstream-check --user 65534:65534 --network "$outnet" --network-alias upstream.compose-check "$TOOL_IMAGE" \
  python3 -c 'import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = ("upstream saw " + self.path).encode(); self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()' >/dev/null
for _ in $(seq 1 50); do
  dc exec -T dind docker exec upstream-check python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8080), timeout=1)' >/dev/null 2>&1 && break
  sleep 0.2
done
allowed="$(cd "$REPO" && "$NODE" --input-type=module -e '
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
const [url, token, target] = process.argv.slice(1);
const c = new Client({ name: "compose-check", version: "1" });
await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
const r = await c.callTool({ name: "net_box", arguments: { url: target } });
await c.close();
console.log(JSON.stringify(r.structuredContent ?? r._meta?.["mcp-warden/error"]));
' "http://127.0.0.1:$WARDEN_PORT/mcp" "$TOKEN" "$UPSTREAM/hello")"
check "networked tool in the sidecar reaches its granted upstream through the proxy container" "$allowed" '{"status":200,"body":"upstream saw /hello"}'
check "audit records of the exchange (from the proxy container's stdout)" "$(dc exec -T warden sh -c 'grep -c "\"host\":\"upstream.compose-check\"" /var/lib/warden/audit.jsonl' | tr -d '\r')" "1"
dc exec -T dind docker rm -f upstream-check >/dev/null
check "containers of $TOOL_IMAGE on the host engine" "$(docker ps -aq --filter "ancestor=$TOOL_IMAGE" | wc -l)" "0"
check "sidecar engine started $TOOL_IMAGE containers" "$(dc exec -T dind docker events --since 0 --until "$(date +%s)" --filter event=start --filter "image=$TOOL_IMAGE" | grep -c . | awk '{print ($1>0)?"yes":"no"}')" "yes"

if [ "$fail" = 0 ]; then say "all checks passed"; else say "some checks FAILED"; exit 1; fi
