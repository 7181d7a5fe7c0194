// A loopback-only reverse proxy that adds `Authorization: Bearer <token>` and forwards to
// warden. It exists because the conformance suite has no option for an auth header, and
// warden has no mode without auth (SPEC §8) — we never weaken the server to test it.
//
// Host and Origin are forwarded UNCHANGED, so the suite's dns-rebinding-protection
// scenario reaches warden's own Host/Origin checks (a proxy that rewrote Host would make
// that scenario pass or fail on the proxy's behaviour, not warden's).
import { createServer, request } from "node:http";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"]);

/**
 * Starts the proxy on 127.0.0.1 with a free port. `target` (warden's loopback port) can be
 * set after start, because warden's config must already name the proxy's Host.
 * @param {{ token: string }} options
 * @returns {Promise<{ port: number, url: string, setTarget(port: number): void, requests: number, close(): Promise<void> }>}
 */
export async function startAuthProxy({ token }) {
  let targetPort = 0;
  const state = { requests: 0 };
  const server = createServer((req, res) => {
    state.requests++;
    if (!targetPort) {
      res.writeHead(503, { "content-type": "text/plain" }).end("proxy target not set");
      return;
    }
    const headers = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers.authorization = `Bearer ${token}`; // replaces whatever the client sent
    const upstream = request(
      { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers },
      (up) => {
        const out = {};
        for (const [name, value] of Object.entries(up.headers)) {
          if (!HOP_BY_HOP.has(name)) out[name] = value;
        }
        res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
        res.flushHeaders(); // SSE: the client must see the stream open before the first event
        up.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(`proxy: ${err.message}`);
      else res.destroy();
    });
    // A client that hangs up must look like a disconnect to warden too (it cancels the call).
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    setTarget(p) {
      targetPort = p;
    },
    get requests() {
      return state.requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}
