/**
 * The HTTP guards (src/mcp/http.ts, http-guard.ts) in process, each with a
 * positive control so a guard that refuses everything fails too: Host (DNS
 * rebinding), Origin (cross-origin browser pages), the bearer token, the body
 * limit (declared and streamed), and a session bound to its token.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { startHttp, type HttpListener } from "../../src/mcp/http.js";
import { fakeBroker } from "../helpers/fake-broker.js";
import { startHttpServer } from "../helpers/server.js";
import { approveAll, isolateManifest, makeWorkspace, TEST_TOKEN, TEST_TOKEN_SHA } from "../helpers/workspace.js";

const OTHER_TOKEN = "other-token-0123456789";
const LIMIT = 4096;
const INIT = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
const MCP = { "content-type": "application/json", accept: "application/json, text/event-stream" };

const initWithName = (n: number) =>
  JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x".repeat(n), version: "1" } } });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One raw request; `chunks` are written one by one with no content-length (chunked encoding). */
function raw(url: string, options: { headers?: Record<string, string>; body?: string; chunks?: string[] }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: "POST", headers: options.headers }, (res) => {
      answered = true;
      let body = "";
      res.on("data", (d) => (body += String(d)));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on("error", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    // A refused request is cut off while we may still be writing: only an error before any answer counts.
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    if (options.chunks) {
      for (const c of options.chunks) req.write(c);
      req.end();
    } else req.end(options.body);
  });
}

describe("HTTP guards (in process, real broker, fake executor)", () => {
  let listener: HttpListener;
  let origin: string;
  const auth = (token = TEST_TOKEN) => ({ ...MCP, authorization: `Bearer ${token}` });

  before(async () => {
    const { broker, logger } = await fakeBroker(
      { echo: { manifest: isolateManifest("echo"), files: { "index.js": "export default async function run(i) { return i; }\n" } } },
      {
        http: {
          listen: "127.0.0.1:0",
          maxBodyBytes: LIMIT,
          allowedOrigins: ["http://allowed.example"],
          tokens: [
            { name: "ci", sha256: TEST_TOKEN_SHA },
            { name: "other", sha256: createHash("sha256").update(OTHER_TOKEN).digest("hex") },
          ],
        },
      },
    );
    listener = await startHttp(broker, broker.currentConfig.http, logger, "test");
    origin = `http://127.0.0.1:${listener.port}`;
  });
  after(async () => {
    await listener?.close();
  });

  test("control: a valid token, host and body open a session", async () => {
    const r = await raw(listener.url, { headers: auth(), body: INIT });
    assert.equal(r.status, 200, r.body);
    assert.equal(typeof r.headers["mcp-session-id"], "string");
  });

  test("Host: a foreign name (DNS rebinding) is refused; the listen address and localhost are accepted", async () => {
    const evil = await raw(listener.url, { headers: { ...auth(), host: `evil.example:${listener.port}` }, body: INIT });
    assert.equal(evil.status, 403);
    assert.match(evil.body, /forbidden host header/);
    const bare = await raw(listener.url, { headers: { ...auth(), host: "127.0.0.1" }, body: INIT });
    assert.equal(bare.status, 403, "the port is part of the name");
    const local = await raw(listener.url, { headers: { ...auth(), host: `localhost:${listener.port}` }, body: INIT });
    assert.equal(local.status, 200);
  });

  test("Origin: an unlisted browser origin is refused, a listed one and none (non-browser) pass", async () => {
    const evil = await raw(listener.url, { headers: { ...auth(), origin: "http://evil.example" }, body: INIT });
    assert.equal(evil.status, 403);
    assert.match(evil.body, /forbidden origin/);
    const own = await raw(listener.url, { headers: { ...auth(), origin }, body: INIT });
    assert.equal(own.status, 403, "not even the server's own origin unless listed");
    const listed = await raw(listener.url, { headers: { ...auth(), origin: "http://allowed.example" }, body: INIT });
    assert.equal(listed.status, 200);
  });

  test("token: none, a wrong one, a prefix of the right one, or a non-Bearer scheme is 401", async () => {
    for (const authorization of [undefined, "Bearer wrong-token", `Bearer ${TEST_TOKEN.slice(0, -1)}`, TEST_TOKEN, `Basic ${TEST_TOKEN}`, `Bearer ${TEST_TOKEN} extra`]) {
      const headers: Record<string, string> = { ...MCP, ...(authorization ? { authorization } : {}) };
      const r = await raw(listener.url, { headers, body: INIT });
      assert.equal(r.status, 401, String(authorization));
      assert.match(String(r.headers["www-authenticate"]), /^Bearer /);
    }
    assert.equal((await raw(listener.url, { headers: { ...MCP, authorization: `bearer ${TEST_TOKEN}` }, body: INIT })).status, 200, "the scheme is case-insensitive");
  });

  test("body: a declared length over the limit is refused before it is read", async () => {
    // Only the headers are sent: the answer must come without waiting for (or draining) the declared body.
    const r = await new Promise<Answer>((resolve, reject) => {
      const req = request(listener.url, { method: "POST", headers: { ...auth(), "content-length": String(LIMIT + 1) } }, (res) => {
        let body = "";
        res.on("data", (d) => (body += String(d)));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on("error", reject);
      req.flushHeaders();
      setTimeout(() => reject(new Error("no answer without the body: the server waited to read it")), 5_000).unref();
    });
    assert.equal(r.status, 413);
    assert.match(r.body, /exceeds 4096 bytes/);
  });

  test("body: a streamed (chunked) body just under the limit is read", async () => {
    const under = initWithName(LIMIT - 200);
    assert.ok(Buffer.byteLength(under) <= LIMIT);
    const fine = await raw(listener.url, { headers: auth(), chunks: [under.slice(0, 1000), under.slice(1000)] });
    assert.equal(fine.status, 200, fine.body);
  });

  test("a session belongs to the token that opened it", async () => {
    const init = await raw(listener.url, { headers: auth(), body: INIT });
    const session = String(init.headers["mcp-session-id"]);
    const note = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" });
    const stolen = await raw(listener.url, { headers: { ...auth(OTHER_TOKEN), "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" }, body: note });
    assert.equal(stolen.status, 403);
    assert.match(stolen.body, /another token/);
    const own = await raw(listener.url, { headers: { ...auth(), "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" }, body: note });
    assert.equal(own.status, 202);
  });
});

/**
 * Found by this test (issue 15): refuse() in src/mcp/http.ts read `res.req.socket` in its "finish"
 * handler; after readBody() left its `for await` early (streamed body over the limit), the request was
 * destroyed and that socket null ⇒ TypeError, uncaught ⇒ the whole warden process exited: any token
 * holder could take the server down for every tenant. Run against a child process so a crash cannot
 * take the test runner with it.
 */
describe("HTTP body limit, streamed (warden serve --http child)", () => {
  test(
    "a streamed (chunked) body over the limit is refused with 413 and the server keeps serving",
    async () => {
      const ws = makeWorkspace({ tools: {}, config: { http: { listen: "127.0.0.1:0", maxBodyBytes: LIMIT, tokens: [{ name: "ci", sha256: TEST_TOKEN_SHA }] } } });
      await approveAll(ws);
      const srv = await startHttpServer(ws.configPath);
      try {
        const over = initWithName(LIMIT);
        const big = await raw(srv.url, { headers: { ...MCP, authorization: `Bearer ${TEST_TOKEN}` }, chunks: [over.slice(0, 1000), over.slice(1000, 3000), over.slice(3000)] });
        assert.equal(big.status, 413);
        const health = await raw(srv.url.replace(/\/mcp$/, "/healthz"), { headers: {}, body: "" }).catch((e: Error) => ({ status: 0, body: e.message }));
        // /healthz is GET-only: any HTTP answer (404 for POST) proves the process is alive; a connection error does not.
        assert.notEqual(health.status, 0, `the server died: ${health.body}\n${srv.stderr().slice(-500)}`);
      } finally {
        await srv.stop();
      }
    },
  );
});
