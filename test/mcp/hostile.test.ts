import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { CallToolResultSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { readAudit } from "../helpers/audit-read.js";
import { CLI_MAIN, connectHttp, startHttpServer, type HttpServerHandle } from "../helpers/server.js";
import { approveAll, makeWorkspace } from "../helpers/workspace.js";
import { messagesOf, rawPost, rawSession, rawStream } from "./raw-mcp.js";
import { tokenFor, waitFor } from "./tenant-kit.js";
import { TEST_TOOLS } from "./tools.js";

/** Resolves when the server closes the socket (or after `ms` with "open"). */
function closedWithin(socket: Socket, ms: number): Promise<"closed" | "open"> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("open"), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve("closed");
    });
  });
}

/** Sends raw bytes on a fresh socket and returns it with the first chunk the server answers. */
async function rawSocket(port: number, bytes: string): Promise<{ socket: Socket; first: Promise<string> }> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await new Promise((r) => socket.once("connect", r));
  const first = new Promise<string>((resolve) => socket.once("data", (d) => resolve(String(d))));
  socket.write(bytes);
  return { socket, first };
}

describe("hostile clients over HTTP", () => {
  const reader = tokenFor("reader", ["read"]);
  const ops = tokenFor("ops");
  const ws = makeWorkspace({
    tools: { adder: TEST_TOOLS.adder!, eraser: TEST_TOOLS.eraser! },
    config: { http: { listen: "127.0.0.1:0", tokens: [reader.entry, ops.entry] }, confirmTimeoutMs: 60_000 },
  });
  let srv: HttpServerHandle;
  let port: number;
  before(async () => {
    await approveAll(ws);
    srv = await startHttpServer(ws.configPath);
    port = Number(new URL(srv.url).port);
  });
  after(async () => {
    await srv?.stop();
  });

  test("a refused request without a token is answered and its connection closed, not drained (#18.3)", async () => {
    const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"jsonrpc":`;
    const { socket, first } = await rawSocket(port, head);
    const closing = closedWithin(socket, 3000);
    assert.match(await first, /^HTTP\/1\.1 401/);
    // the peer keeps its side open and sends more, slowly: the server must still let go
    const trickle = setInterval(() => socket.writable && socket.write("x"), 100);
    try {
      assert.equal(await closing, "closed", "the server closed the refused connection instead of draining the declared body");
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
    // the same after a 413 with a valid token
    const big = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${reader.token}\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{`;
    const s2 = await rawSocket(port, big);
    const closing2 = closedWithin(s2.socket, 3000);
    assert.match(await s2.first, /^HTTP\/1\.1 413/);
    assert.equal(await closing2, "closed");
    s2.socket.destroy();
  });

  test("a body trickled byte by byte with a valid token is cut off by the request timeout (#18.3)", async () => {
    const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${reader.token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`;
    const { socket } = await rawSocket(port, head);
    const trickle = setInterval(() => socket.writable && socket.write(" "), 500);
    try {
      const started = Date.now();
      assert.equal(await closedWithin(socket, 45_000), "closed");
      assert.ok(Date.now() - started >= 25_000, "not before the request timeout");
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });

  test("batches of responses with unknown ids cannot flood the log; oversized batches are refused (#18.2)", async () => {
    const sessionId = await rawSession(srv.url, reader.token);
    const before = srv.stderr().length;
    const pad = "FLOODPAD".repeat(1150); // ~9 KB per message
    for (let round = 0; round < 30; round++) {
      const batch = Array.from({ length: 32 }, (_, i) => ({ jsonrpc: "2.0", id: 10_000 + round * 100 + i, result: { pad } }));
      const r = await rawPost(srv.url, reader.token, batch, sessionId);
      assert.equal(r.status, 202);
    }
    const tooMany = Array.from({ length: 100 }, (_, i) => ({ jsonrpc: "2.0", id: 90_000 + i, result: {} }));
    assert.equal((await rawPost(srv.url, reader.token, tooMany, sessionId)).status, 400);
    await new Promise((r) => setTimeout(r, 300));
    const logged = srv.stderr().slice(before);
    assert.ok(!logged.includes("FLOODPAD"), "no client-sent body reaches the log");
    assert.ok(logged.length < 8_000, `960 bad messages made ${logged.length} bytes of log`);
    assert.match(logged, /unknown message ID \(id 10000\)/, "the first ones are logged by id");
    // the server still serves
    const c = await connectHttp(srv.url, { token: reader.token });
    assert.deepEqual((await c.client.callTool({ name: "adder", arguments: { a: 1, b: 1 } })).structuredContent, { sum: 2 });
    await c.close();
  });

  test("malformed tools/call params get -32602 with a short message and leave exactly one audit record (#18.9)", async () => {
    const sessionId = await rawSession(srv.url, reader.token);
    const cases = [
      { params: { name: "adder", arguments: "x" }, tool: "adder", problem: /params\.arguments must be an object/ },
      { params: { name: 42, arguments: {} }, tool: "<number>", problem: /params\.name must be a string/ },
      { params: { name: "adder", arguments: [1, 2] }, tool: "adder", problem: /params\.arguments must be an object/ },
      { params: { name: ["adder"], arguments: { a: 1, b: 2 } }, tool: "<object>", problem: /params\.name must be a string/ },
    ];
    for (const [i, c] of cases.entries()) {
      const before = readAudit(ws.auditFile).length;
      const r = await rawPost(srv.url, reader.token, { jsonrpc: "2.0", id: 500 + i, method: "tools/call", params: c.params }, sessionId);
      const [answer] = messagesOf(r);
      assert.equal(answer?.error?.code, -32602, JSON.stringify(answer));
      assert.match(answer.error.message, c.problem);
      assert.ok(answer.error.message.length < 200 && !/invalid_type|expected|ZodError|\[\s*\{/.test(answer.error.message), `no schema dump: ${answer.error.message}`);
      const records = readAudit(ws.auditFile).slice(before);
      assert.equal(records.length, 1, "one attempt, one record");
      assert.equal(records[0]!.actor, "reader");
      assert.equal(records[0]!.tool, c.tool);
      assert.equal(records[0]!.outcome, "error");
      assert.equal(records[0]!.input, null, "nothing ran: the record keeps a digest of the input");
      assert.ok(records[0]!.inputDigest);
    }
  });

  test("refused calls are audited with a bounded digest of their input, and a token that keeps getting refused waits at the door (#18.7)", async () => {
    const c = await connectHttp(srv.url, { token: reader.token });
    const other = await connectHttp(srv.url, { token: ops.token });
    try {
      const args = { blob: "A".repeat(200_000), password: "hunter2-secret" };
      const sizeBefore = statSync(ws.auditFile).size;
      for (let i = 0; i < 40; i++) await assert.rejects(c.client.request({ method: "tools/call", params: { name: "no_such_tool", arguments: args } }, CallToolResultSchema), /unknown tool/);
      const grown = statSync(ws.auditFile).size - sizeBefore;
      assert.ok(grown < 40 * 2000, `40 refused 200 KB calls added ${grown} bytes to the audit log`);
      const rec = readAudit(ws.auditFile).filter((a) => a.tool === "no_such_tool").at(-1)!;
      const digest = rec.inputDigest as { bytes: number; sha256: string; prefix: string };
      assert.equal(rec.input, null);
      assert.ok(digest.bytes > 200_000);
      assert.match(digest.sha256, /^[0-9a-f]{64}$/);
      assert.ok(digest.prefix.startsWith('{"blob":"AAAA') && digest.prefix.length <= 200);
      // the same input, run for real, keeps its (redacted) input: the digest is for calls that never ran
      const ok = await other.client.callTool({ name: "adder", arguments: { a: 2, b: 3 } });
      assert.deepEqual(ok.structuredContent, { sum: 5 });
      assert.deepEqual(readAudit(ws.auditFile).filter((a) => a.tool === "adder" && a.actor === "ops").at(-1)?.input, { a: 2, b: 3 });
      // keep going: the refusal budget runs out and the token is refused at the door (HTTP 429), unaudited
      let throttled = false;
      for (let i = 0; i < 200 && !throttled; i++) {
        await c.client.request({ method: "tools/call", params: { name: "no_such_tool", arguments: {} } }, CallToolResultSchema).catch((e: Error & { code?: number }) => {
          if (e.code === 429 && /too many refused calls/.test(e.message)) throttled = true;
        });
      }
      assert.ok(throttled, "the refusal loop was throttled");
      const refusedRecords = readAudit(ws.auditFile).filter((a) => a.tool === "no_such_tool").length;
      assert.ok(refusedRecords < 120, `${refusedRecords} records for the refusal loop`);
      // another token is not throttled
      assert.deepEqual((await other.client.callTool({ name: "adder", arguments: { a: 1, b: 1 } })).structuredContent, { sum: 2 });
    } finally {
      await c.close();
      await other.close();
    }
  });

  test("the confirmation travels on the call's own stream: a client without a GET stream still gets it (#18.6)", async () => {
    const sessionId = await rawSession(srv.url, ops.token, { elicitation: {} });
    let prompt: Record<string, any> | null = null;
    const answer = await Promise.race([
      rawStream(srv.url, ops.token, sessionId, { jsonrpc: "2.0", id: 77, method: "tools/call", params: { name: "eraser", arguments: { target: "own-stream" } } }, (m) => {
        if (m.method !== "elicitation/create") return;
        prompt = m;
        void rawPost(srv.url, ops.token, { jsonrpc: "2.0", id: m.id, result: { action: "accept", content: { confirm: true } } }, sessionId);
      }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no answer: the prompt went to a stream the client never opened")), 8000)),
    ]);
    assert.ok(prompt, "the prompt arrived on the POST's own stream");
    assert.deepEqual(answer.result?.structuredContent, { erased: "own-stream" });
  });

  test("the confirmation prompt shows bidi and invisible characters escaped (#18.11)", async () => {
    const c = await connectHttp(srv.url, { token: ops.token, capabilities: { elicitation: {} } });
    try {
      let message = "";
      c.client.setRequestHandler(ElicitRequestSchema, async (req) => {
        message = req.params.message;
        return { action: "decline" };
      });
      const target = "report-2026.txt\u202Etxt.exe\u2066\u200B\u0007";
      await c.client.request({ method: "tools/call", params: { name: "eraser", arguments: { target } } }, CallToolResultSchema);
      assert.ok(message.length > 0);
      assert.ok(!/[\u202A-\u202E\u2066-\u2069\u200B\u0007]/.test(message), "no raw bidi or invisible character reaches the human");
      assert.ok(message.includes("report-2026.txt\\u202Etxt.exe\\u2066\\u200B"), message);
    } finally {
      await c.close();
    }
  });
});

describe("a descriptor flood (#18.3)", () => {
  test("hundreds of idle connections from one peer do not exhaust the server's descriptors: a real client still works and is audited", async () => {
    const ci = tokenFor("ci");
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! }, config: { http: { listen: "127.0.0.1:0", tokens: [ci.entry] } } });
    await approveAll(ws);
    // The server runs with 256 descriptors; the flood opens 400 connections.
    const child = spawn("sh", ["-c", 'ulimit -n 256 && exec "$0" "$@"', process.execPath, "--no-node-snapshot", CLI_MAIN(), "serve", "--http", "--config", ws.configPath], {
      env: { ...process.env, WARDEN_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += String(d)));
    const sockets: Socket[] = [];
    try {
      const url = await waitFor("listening", () => /listening on (http:\/\/\S+\/mcp)/.exec(stderr)?.[1], 20_000);
      const port = Number(new URL(url).port);
      for (let i = 0; i < 400; i++) {
        const s = connect(port, "127.0.0.1");
        s.on("error", () => {});
        sockets.push(s);
      }
      await Promise.all(sockets.map((s) => new Promise((r) => (s.connecting ? s.once("connect", r).once("close", r) : r(null)))));
      await new Promise((r) => setTimeout(r, 500));
      const c = await connectHttp(url, { token: ci.token });
      const r = await c.client.callTool({ name: "adder", arguments: { a: 20, b: 22 } });
      assert.deepEqual(r.structuredContent, { sum: 42 });
      await c.close();
      assert.equal(readAudit(ws.auditFile).filter((a) => a.tool === "adder").length, 1, "the call was audited");
      assert.ok(!/EMFILE/.test(stderr), "no descriptor exhaustion");
    } finally {
      for (const s of sockets) s.destroy();
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });
});

void createHash;
