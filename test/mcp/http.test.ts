import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { verifyAuditChain } from "../../src/audit/index.js";
import { readAudit } from "../helpers/audit-read.js";
import { spawnSync } from "node:child_process";
import { CLI_MAIN, connectHttp, startHttpServer, type HttpServerHandle } from "../helpers/server.js";
import { approveAll, makeWorkspace, TEST_TOKEN, TEST_TOKEN_SHA } from "../helpers/workspace.js";
import { createHash } from "node:crypto";
import { TEST_TOOLS } from "./tools.js";
import { errorCodeOf } from "../helpers/result.js";

const READ_TOKEN = "read-only-token-abcdef";

/** A raw HTTP request, to check what a hostile peer gets (not what a polite client sends). */
function raw(url: string, options: { method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? "POST", headers: options.headers }, (res) => {
      let body = "";
      res.on("data", (d) => (body += String(d)));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

const INIT = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

describe("MCP over Streamable HTTP", () => {
  const ws = makeWorkspace({
    tools: { adder: TEST_TOOLS.adder!, writer: TEST_TOOLS.writer!, eraser: TEST_TOOLS.eraser!, sleeper: TEST_TOOLS.sleeper! },
    config: {
      http: {
        listen: "127.0.0.1:0",
        maxBodyBytes: 4096,
        tokens: [
          { name: "ci", sha256: TEST_TOKEN_SHA },
          { name: "reader", sha256: createHash("sha256").update(READ_TOKEN).digest("hex"), allow: ["read"] },
        ],
      },
      concurrency: { maxInFlight: 4, maxQueue: 8 },
    },
  });
  let srv: HttpServerHandle;
  before(async () => {
    await approveAll(ws);
    srv = await startHttpServer(ws.configPath);
  });
  after(async () => {
    await srv?.stop();
  });

  test("GET /healthz answers without a token and says only that it is up", async () => {
    const r = await raw(srv.origin + "/healthz", { method: "GET" });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { status: "ok" });
  });

  test("no token, or a wrong token, is 401", async () => {
    assert.equal((await raw(srv.url, { headers: MCP_HEADERS, body: INIT })).status, 401);
    assert.equal((await raw(srv.url, { headers: { ...MCP_HEADERS, authorization: "Bearer wrong" }, body: INIT })).status, 401);
  });

  test("a foreign Host header (DNS rebinding) is refused", async () => {
    const r = await raw(srv.url, { headers: { ...MCP_HEADERS, authorization: `Bearer ${TEST_TOKEN}`, host: "evil.example:80" }, body: INIT });
    assert.equal(r.status, 403);
  });

  test("a cross-origin browser request is refused", async () => {
    const r = await raw(srv.url, { headers: { ...MCP_HEADERS, authorization: `Bearer ${TEST_TOKEN}`, origin: "https://evil.example" }, body: INIT });
    assert.equal(r.status, 403);
  });

  test("an oversized body is refused with 413", async () => {
    const big = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { pad: "x".repeat(10_000) } });
    const r = await raw(srv.url, { headers: { ...MCP_HEADERS, authorization: `Bearer ${TEST_TOKEN}` }, body: big });
    assert.equal(r.status, 413);
  });

  test("with a valid token a client lists and calls tools", async () => {
    const c = await connectHttp(srv.url);
    try {
      const { tools } = await c.client.listTools();
      assert.ok(tools.some((t) => t.name === "adder"));
      const r = await c.client.callTool({ name: "adder", arguments: { a: 1, b: 2 } });
      assert.deepEqual(r.structuredContent, { sum: 3 });
    } finally {
      await c.close();
    }
  });

  test("a read-scoped token neither lists nor calls write or destructive tools: answered like unknown tools, audited as E_FORBIDDEN with the actor", async () => {
    const c = await connectHttp(srv.url, { token: READ_TOKEN });
    try {
      const names = (await c.client.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(names, ["adder", "sleeper"]);
      const callIt = (name: string) => c.client.request({ method: "tools/call", params: { name, arguments: {} } }, CallToolResultSchema);
      await assert.rejects(callIt("writer"), (e: Error & { code?: number }) => e.code === -32602 && /unknown tool "writer"/.test(e.message));
      const rec = readAudit(ws.auditFile).find((a) => a.tool === "writer" && a.actor === "reader");
      assert.equal(rec?.errorCode, "E_FORBIDDEN");
      // no other route: a destructive tool, another spelling of the name, a disabled-then-enabled tool
      await assert.rejects(callIt("eraser"), /unknown tool "eraser"/);
      await assert.rejects(callIt("WRITER"), /unknown tool/);
      for (const cmd of ["disable", "enable"]) assert.equal(spawnSync(process.execPath, ["--no-node-snapshot", CLI_MAIN(), cmd, "writer", "--config", ws.configPath]).status, 0);
      await assert.rejects(callIt("writer"), /unknown tool "writer"/);
      assert.deepEqual((await c.client.listTools()).tools.map((t) => t.name).sort(), ["adder", "sleeper"]);
    } finally {
      await c.close();
    }
  });

  test("50 concurrent sessions all work", async () => {
    const clients = await Promise.all(Array.from({ length: 50 }, () => connectHttp(srv.url)));
    try {
      const lists = await Promise.all(clients.map((c) => c.client.listTools()));
      for (const l of lists) assert.ok(l.tools.some((t) => t.name === "adder"));
      // calls in every session (sequential here: the concurrency bound is tested below)
      for (const [i, c] of clients.entries()) assert.deepEqual((await c.client.callTool({ name: "adder", arguments: { a: i, b: 1 } })).structuredContent, { sum: i + 1 });
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  test("200 concurrent calls: each answered (result or E_BUSY), one audit record each, chain verifies", async () => {
    const before = readAudit(ws.auditFile).length;
    const c = await connectHttp(srv.url);
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => c.client.request({ method: "tools/call", params: { name: "adder", arguments: { a: i, b: 0 } } }, CallToolResultSchema)),
      );
      let ok = 0;
      let busy = 0;
      for (const [i, r] of results.entries()) {
        if (r.isError) {
          assert.equal(errorCodeOf(r), "E_BUSY");
          busy++;
        } else {
          assert.deepEqual(r.structuredContent, { sum: i });
          ok++;
        }
      }
      assert.equal(ok + busy, 200);
      assert.ok(ok > 0);
      const audit = readAudit(ws.auditFile);
      assert.equal(audit.length - before, 200);
      const report = await verifyAuditChain(ws.auditFile);
      assert.equal(report.ok, true, report.reason ?? "");
    } finally {
      await c.close();
    }
  });

  test("past the queue bound, calls are refused with E_BUSY at once", async () => {
    const c = await connectHttp(srv.url);
    try {
      // 4 running + 8 queued sleepers fill every slot; the 13th must be refused immediately.
      const controller = new AbortController();
      const sleepers = Array.from({ length: 12 }, () =>
        c.client.request({ method: "tools/call", params: { name: "sleeper", arguments: {} } }, CallToolResultSchema, { signal: controller.signal }).catch(() => null),
      );
      await new Promise((r) => setTimeout(r, 500));
      const r = await c.client.request({ method: "tools/call", params: { name: "adder", arguments: { a: 1, b: 1 } } }, CallToolResultSchema);
      assert.equal(errorCodeOf(r), "E_BUSY");
      controller.abort();
      await Promise.all(sleepers);
    } finally {
      await c.close();
    }
  });

  test("a client that disconnects mid-call stops its sandbox (audited as cancelled)", async () => {
    const controller = new AbortController();
    const body = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "sleeper", arguments: { tag: "disconnect" } } });
    const c = await connectHttp(srv.url);
    const sessionId = c.transport.sessionId!;
    const req = request(srv.url, { method: "POST", headers: { ...MCP_HEADERS, authorization: `Bearer ${TEST_TOKEN}`, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" }, signal: controller.signal });
    req.on("error", () => {});
    req.end(body);
    await new Promise((r) => setTimeout(r, 400));
    controller.abort();
    let rec;
    for (let i = 0; i < 100 && !rec; i++) {
      await new Promise((r) => setTimeout(r, 50));
      // A call that reached its sandbox keeps its input; one stopped while it queued keeps a digest of it.
      rec = readAudit(ws.auditFile).find((a) => a.tool === "sleeper" && /"tag":"disconnect"/.test(JSON.stringify(a.input ?? a.inputDigest)));
    }
    assert.equal(rec?.errorCode, "E_CANCELLED", "the disconnected call was stopped and audited as cancelled");
    await c.close();
  });
});
