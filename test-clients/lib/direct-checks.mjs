// Raw HTTP probes straight at warden's port (no proxy): they show that the refusals the
// clients see come from warden itself — the token check and the DNS-rebinding Host/Origin
// checks (SPEC §8) — and not from the auth proxy in front of the conformance suite.
import { request } from "node:http";

const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "warden-direct-probe", version: "1.0.0" } },
});

function send({ port, method = "POST", path = "/mcp", headers }) {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end(method === "POST" ? INITIALIZE : undefined);
  });
}

/** @returns {Promise<Array<{ name: string, ok: boolean, detail: string }>>} */
export async function runDirectChecks({ port, token }) {
  const own = `127.0.0.1:${port}`;
  const base = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  const auth = { authorization: `Bearer ${token}` };
  const probes = [
    ["initialize with token and Host 127.0.0.1:<port> is accepted (200)", { headers: { ...base, ...auth, host: own } }, 200, /"protocolVersion"/],
    ["no token ⇒ 401", { headers: { ...base, host: own } }, 401, /bearer token is required/],
    ["valid token, Host evil.example.com ⇒ 403 (DNS rebinding)", { headers: { ...base, ...auth, host: "evil.example.com" } }, 403, /forbidden host/],
    ["valid token, Origin http://evil.example.com ⇒ 403", { headers: { ...base, ...auth, host: own, origin: "http://evil.example.com" } }, 403, /forbidden origin/],
    ["GET /healthz needs no token and says only that it is up", { method: "GET", path: "/healthz", headers: { host: own } }, 200, /^\{"status":"ok"\}$/],
  ];
  const results = [];
  for (const [name, options, status, bodyPattern] of probes) {
    try {
      const res = await send({ port, ...options });
      const ok = res.status === status && bodyPattern.test(res.body);
      results.push({ name, ok, detail: `HTTP ${res.status} ${res.body.slice(0, 120)}` });
    } catch (err) {
      results.push({ name, ok: false, detail: `request failed: ${err.message}` });
    }
  }
  return results;
}
