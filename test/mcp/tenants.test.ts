import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CallToolResultSchema, ElicitRequestSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { readAudit } from "../helpers/audit-read.js";
import { connectHttp, startHttpServer, type HttpServerHandle } from "../helpers/server.js";
import { approveAll, makeWorkspace } from "../helpers/workspace.js";
import { errorCodeOf } from "../helpers/result.js";
import { editConfig, startGate, tokenFor, waitFor, waiterTool } from "./tenant-kit.js";
import { TEST_TOOLS } from "./tools.js";

type Client = Awaited<ReturnType<typeof connectHttp>>["client"];
const callTool = (client: Client, name: string, args: Record<string, unknown> = {}) =>
  client.request({ method: "tools/call", params: { name, arguments: args } }, CallToolResultSchema);

describe("tenants: scopes are live and private", () => {
  const ops = tokenFor("ops", ["read", "destructive"]);
  const admin = tokenFor("admin");
  const reader = tokenFor("reader", ["read"]);
  const ws = makeWorkspace({
    tools: {
      adder: TEST_TOOLS.adder!,
      eraser: TEST_TOOLS.eraser!,
      writer: TEST_TOOLS.writer!,
      mover: { ...TEST_TOOLS.writer!, manifest: { ...TEST_TOOLS.writer!.manifest, name: "mover" } },
      stamper: { ...TEST_TOOLS.writer!, manifest: { ...TEST_TOOLS.writer!.manifest, name: "stamper" } },
    },
    config: { http: { listen: "127.0.0.1:0", tokens: [ops.entry, admin.entry, reader.entry] }, disabled: ["mover"] },
  });
  let srv: HttpServerHandle;
  before(async () => {
    await approveAll(ws);
    // stamper is edited after approval: not approved any more
    const { appendFileSync } = await import("node:fs");
    appendFileSync(`${ws.toolDir("stamper")}/index.js`, "// edited\n");
    srv = await startHttpServer(ws.configPath);
  });
  after(async () => {
    await srv?.stop();
  });

  test("a scope narrowed while a human decides applies to that call: accepted after the narrowing, the tool does not run (#18.1)", async () => {
    const c = await connectHttp(srv.url, { token: ops.token, capabilities: { elicitation: {} } });
    const other = await connectHttp(srv.url, { token: admin.token, capabilities: { elicitation: {} } });
    try {
      c.client.setRequestHandler(ElicitRequestSchema, async () => {
        await editConfig(ws.configPath, (raw) => {
          raw.http.tokens.find((t: { name: string }) => t.name === "ops").allow = ["read"];
        });
        // the operator's edit is in force before the human answers
        await waitFor("narrowed scope applied", async () => !(await c.client.listTools()).tools.some((t) => t.name === "eraser"));
        return { action: "accept", content: { confirm: true } };
      });
      await assert.rejects(callTool(c.client, "eraser", { target: "narrowed" }), /unknown tool "eraser"/);
      const rec = readAudit(ws.auditFile).find((a) => a.tool === "eraser" && a.actor === "ops");
      assert.equal(rec?.outcome, "error");
      assert.equal(rec?.errorCode, "E_FORBIDDEN");
      assert.equal(rec?.outputSha256, null, "the tool produced nothing: it did not run");
      // another tenant's scope was not touched
      other.client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { confirm: true } }));
      const ok = await callTool(other.client, "eraser", { target: "admin" });
      assert.deepEqual(ok.structuredContent, { erased: "admin" });
    } finally {
      await c.close();
      await other.close();
    }
  });

  test("a tool outside the caller's scope is answered exactly like an unknown tool: enabled, disabled or edited (#18.8)", async () => {
    const c = await connectHttp(srv.url, { token: reader.token });
    try {
      const answer = async (name: string) => {
        const err = await callTool(c.client, name).then(
          () => assert.fail(`${name} answered with a result`),
          (e: Error & { code?: number }) => e,
        );
        return { code: err.code, message: err.message.replaceAll(name, "<name>") };
      };
      const unknown = await answer("no_such_tool");
      assert.equal(unknown.code, -32602);
      for (const name of ["writer", "mover", "stamper", "eraser"]) assert.deepEqual(await answer(name), unknown, `${name} is answered like an unknown tool`);
      const records = readAudit(ws.auditFile).filter((a) => a.actor === "reader");
      for (const name of ["writer", "mover", "stamper", "eraser"]) assert.equal(records.find((a) => a.tool === name)?.errorCode, "E_FORBIDDEN", `${name} is audited as forbidden for the operator`);
      // the admin token still sees the real reasons
      const a = await connectHttp(srv.url, { token: admin.token });
      try {
        assert.equal(errorCodeOf(await callTool(a.client, "mover")), "E_DISABLED");
        assert.equal(errorCodeOf(await callTool(a.client, "stamper")), "E_NOT_APPROVED");
      } finally {
        await a.close();
      }
    } finally {
      await c.close();
    }
  });

  test("tools/list_changed reaches only the sessions whose own list changed (#18.10)", async () => {
    const r = await connectHttp(srv.url, { token: reader.token });
    const a = await connectHttp(srv.url, { token: admin.token });
    try {
      let readerHeard = 0;
      let adminHeard = 0;
      r.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void readerHeard++);
      a.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void adminHeard++);
      await r.client.listTools();
      await a.client.listTools();
      // a write tool the reader cannot see is disabled: only the admin's list changed
      await editConfig(ws.configPath, (raw) => raw.disabled.push("writer"));
      await waitFor("admin notified", () => adminHeard === 1);
      await new Promise((res) => setTimeout(res, 500));
      // a read tool both see is disabled: both lists changed
      await editConfig(ws.configPath, (raw) => raw.disabled.push("adder"));
      await waitFor("both notified", () => adminHeard === 2 && readerHeard >= 1);
      await new Promise((res) => setTimeout(res, 500));
      assert.equal(readerHeard, 1, "the reader heard only of the change to its own list");
      await editConfig(ws.configPath, (raw) => (raw.disabled = ["mover"]));
      await waitFor("both notified again", () => adminHeard === 3 && readerHeard === 2);
    } finally {
      await r.close();
      await a.close();
    }
  });
});

describe("tenants: slots are shared fairly", () => {
  const greedy = tokenFor("greedy", ["read"]);
  const polite = tokenFor("polite", ["read", "destructive"]);
  let gate: Awaited<ReturnType<typeof startGate>>;
  let srv: HttpServerHandle;
  let ws: ReturnType<typeof makeWorkspace>;
  before(async () => {
    gate = await startGate();
    const waiter = waiterTool(gate.origin);
    ws = makeWorkspace({
      tools: { waiter: waiter.spec, adder: TEST_TOOLS.adder!, eraser: TEST_TOOLS.eraser! },
      config: {
        http: { listen: "127.0.0.1:0", tokens: [greedy.entry, polite.entry] },
        grants: { waiter: waiter.grant },
        concurrency: { maxInFlight: 4, maxQueue: 8 },
      },
    });
    await approveAll(ws);
    srv = await startHttpServer(ws.configPath);
  });
  after(async () => {
    await srv?.stop();
    await gate?.close();
  });

  test("one token's batch of slow calls cannot take every slot: another token still runs, and a freed slot goes to it first (#18.5)", async () => {
    const g = await connectHttp(srv.url, { token: greedy.token });
    const p = await connectHttp(srv.url, { token: polite.token });
    try {
      const flood = Array.from({ length: 14 }, (_, i) => callTool(g.client, "waiter", { tag: `g${i}` }));
      // one identity runs at most 3 of the 4 slots
      await waitFor("greedy calls running", () => gate.held().length === 3);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(gate.held().length, 3);
      // the other token is served at once, in the slot kept for others
      const first = callTool(p.client, "waiter", { tag: "p0" });
      await waitFor("polite call running", () => gate.held().includes("p0"));
      const second = callTool(p.client, "waiter", { tag: "p1" });
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!gate.held().includes("p1"), "all four slots are busy: p1 waits");
      // a greedy call ends: the freed slot goes to the identity with fewer running calls, not to the oldest waiter
      const greedyHeld = gate.held().find((t) => t.startsWith("g"))!;
      gate.release(greedyHeld);
      await waitFor("next call admitted", () => gate.held().length === 4);
      assert.ok(gate.held().includes("p1"), `p1 got the freed slot (held: ${gate.held().join(",")})`);
      const releaser = setInterval(() => gate.releaseAll(), 50);
      try {
        const results = await Promise.all(flood);
        const codes = results.map((r) => (r.isError ? errorCodeOf(r) : "ok"));
        assert.equal(codes.filter((c) => c === "ok").length, 7, `3 running + 4 queued per identity: ${codes.join(",")}`);
        assert.equal(codes.filter((c) => c === "E_BUSY").length, 7);
        assert.deepEqual((await first).structuredContent, { tag: "p0" });
        assert.deepEqual((await second).structuredContent, { tag: "p1" });
      } finally {
        clearInterval(releaser);
      }
    } finally {
      await g.close();
      await p.close();
    }
  });

  test("one token cannot hold every confirmation slot: another token's prompt still reaches its human (#18.6)", async () => {
    const hog = tokenFor("hog", ["destructive"]);
    await editConfig(ws.configPath, (raw) => raw.http.tokens.push(hog.entry));
    await waitFor("hog token live", async () => {
      try {
        const probe = await connectHttp(srv.url, { token: hog.token });
        await probe.close();
        return true;
      } catch {
        return false;
      }
    });
    const h = await connectHttp(srv.url, { token: hog.token, capabilities: { elicitation: {} } });
    const p = await connectHttp(srv.url, { token: polite.token, capabilities: { elicitation: {} } });
    try {
      let prompts = 0;
      // this client declares elicitation and never answers
      h.client.setRequestHandler(ElicitRequestSchema, () => {
        prompts++;
        return new Promise(() => {});
      });
      const controller = new AbortController();
      const hogCalls = Array.from({ length: 8 }, (_, i) =>
        h.client.request({ method: "tools/call", params: { name: "eraser", arguments: { target: `h${i}` } } }, CallToolResultSchema, { signal: controller.signal }).then(
          (r) => errorCodeOf(r) ?? "ok",
          () => "aborted",
        ),
      );
      await waitFor("hog prompts pending", () => prompts === 2, 5000);
      p.client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { confirm: true } }));
      const ok = await callTool(p.client, "eraser", { target: "polite" });
      assert.deepEqual(ok.structuredContent, { erased: "polite" }, "the other token's confirmation was not refused with E_BUSY");
      controller.abort();
      const codes = await Promise.all(hogCalls);
      assert.equal(codes.filter((c) => c === "E_BUSY").length, 6, `2 of 8 pending per identity (maxQueue 8 / 4): ${codes.join(",")}`);
    } finally {
      await h.close();
      await p.close();
    }
  });
});

describe("tenants: a wait for a slot is a wait too", () => {
  const first = tokenFor("first");
  const queued = tokenFor("queued", ["read"]);
  let gate: Awaited<ReturnType<typeof startGate>>;
  let srv: HttpServerHandle;
  let ws: ReturnType<typeof makeWorkspace>;
  before(async () => {
    gate = await startGate();
    const waiter = waiterTool(gate.origin);
    ws = makeWorkspace({
      tools: { waiter: waiter.spec },
      config: { http: { listen: "127.0.0.1:0", tokens: [first.entry, queued.entry] }, grants: { waiter: waiter.grant }, concurrency: { maxInFlight: 1, maxQueue: 4 } },
    });
    await approveAll(ws);
    srv = await startHttpServer(ws.configPath);
  });
  after(async () => {
    await srv?.stop();
    await gate?.close();
  });

  test("a scope narrowed while a call waits for a slot applies to that call when the slot frees (#18.1)", async () => {
    const a = await connectHttp(srv.url, { token: first.token });
    const b = await connectHttp(srv.url, { token: queued.token });
    try {
      const running = callTool(a.client, "waiter", { tag: "a0" });
      await waitFor("a0 holds the only slot", () => gate.held().includes("a0"));
      const waiting = callTool(b.client, "waiter", { tag: "b0" });
      await new Promise((r) => setTimeout(r, 300));
      await editConfig(ws.configPath, (raw) => {
        raw.http.tokens.find((t: { name: string }) => t.name === "queued").allow = [];
      });
      await waitFor("narrowed", async () => (await b.client.listTools()).tools.length === 0);
      gate.release("a0");
      assert.deepEqual((await running).structuredContent, { tag: "a0" });
      await assert.rejects(waiting, /unknown tool "waiter"/);
      assert.ok(!gate.seen.includes("b0"), "the queued call never ran");
      assert.equal(readAudit(ws.auditFile).find((r) => r.actor === "queued")?.errorCode, "E_FORBIDDEN");
    } finally {
      gate.releaseAll();
      await a.close();
      await b.close();
    }
  });
});
