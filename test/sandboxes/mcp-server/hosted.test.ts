import assert from "node:assert/strict";
import { waitFor } from "../../helpers/wait.js";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CallToolResultSchema, CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { readAudit } from "../../helpers/audit-read.js";
import { runCli } from "../../../src/cli/main.js";
import { errorCodeOf, errorOf } from "../../helpers/result.js";
import { connectStdio } from "../../helpers/server.js";
import { approveFixture, FIXTURE_SECRET, fixtureContainers, fixtureWorkspace, mcpServerBackendAvailable, requireServerBackend } from "./fixture.js";

type Conn = Awaited<ReturnType<typeof connectStdio>>;
const ENV = { WARDEN_FIXTURE_SECRET: FIXTURE_SECRET };



type Block = { type: string; text?: string; resource?: { text: string } };
const blocks = (r: unknown): Block[] => (r as { content: Block[] }).content;

const raw = (c: Conn, name: string, args: Record<string, unknown> = {}, options: Record<string, unknown> = {}) =>
  c.client.request({ method: "tools/call", params: { name, arguments: args } }, CallToolResultSchema, options);

describe("hosted MCP server, unmodified, through warden (SPEC §15)", () => {
  const alerts: Array<Record<string, unknown>> = [];
  const hook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += String(d)));
    req.on("end", () => {
      alerts.push(JSON.parse(body));
      res.end("ok");
    });
  });
  let ws: ReturnType<typeof fixtureWorkspace>;
  let c: Conn;
  const asked: string[] = [];
  let ready = false;

  before(async () => {
    if ((await mcpServerBackendAvailable()) !== true) return;
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", () => r()));
    ws = fixtureWorkspace({ alerts: { webhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/` } });
    await approveFixture(ws.configPath);
    c = await connectStdio(ws.configPath, { env: ENV, capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } });
    // The client would answer these: warden must never let the hosted server reach it.
    c.client.setRequestHandler(CreateMessageRequestSchema, async () => {
      asked.push("sampling");
      return { role: "assistant", content: { type: "text", text: "leaked" }, model: "m" };
    });
    c.client.setRequestHandler(ElicitRequestSchema, async () => {
      asked.push("elicitation");
      return { action: "accept", content: {} };
    });
    c.client.setRequestHandler(ListRootsRequestSchema, async () => {
      asked.push("roots");
      return { roots: [{ uri: "file:///home/secret" }] };
    });
    ready = true;
  });
  after(async () => {
    await c?.close();
    hook.close();
  });

  test("approve pins every tool the server lists, with the image ID", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    const lock = JSON.parse(readFileSync(join(ws.dir, "warden.lock.json"), "utf8"));
    const a = lock.tools.fixture;
    assert.match(a.imageId, /^sha256:[0-9a-f]{64}$/);
    assert.ok(a.pins.echo && a.pins.add && a.pins.hang, Object.keys(a.pins).join(","));
    assert.match(a.pins.echo.sha256, /^[0-9a-f]{64}$/);
    assert.equal(a.pins.echo.definition.description, "Echo the text back.");
  });

  test("tools/list shows the pinned tools with the prefix; hints come from warden's effect, not the server's annotations", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    const { tools } = await c.client.listTools();
    const names = tools.map((x) => x.name).sort();
    assert.ok(names.includes("fx_echo") && names.includes("fx_add") && names.includes("fx_write"), names.join(","));
    assert.ok(!names.some((n) => !n.startsWith("fx_")));
    const write = tools.find((x) => x.name === "fx_write")!;
    assert.equal(write.annotations?.readOnlyHint, false, "the server claims readOnlyHint; its effect is write");
    assert.equal(tools.find((x) => x.name === "fx_add")!.outputSchema?.required?.[0], "sum");
    const whoami = tools.find((x) => x.name === "fx_whoami")!;
    assert.ok(!JSON.stringify(tools).includes(FIXTURE_SECRET), "a granted secret in a server's tool description never reaches the client");
    assert.match(whoami.description!, /\[REDACTED\]/);
  });

  test("text and structured results through Client.callTool", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    const echo = await c.client.callTool({ name: "fx_echo", arguments: { text: "hello" } });
    assert.deepEqual(echo.content, [{ type: "text", text: "hello" }]);
    const add = await c.client.callTool({ name: "fx_add", arguments: { a: 2, b: 3 } });
    assert.deepEqual(add.structuredContent, { sum: 5 });
  });

  test("image, audio, embedded resource and resource_link blocks pass through", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    assert.equal(blocks(await c.client.callTool({ name: "fx_image", arguments: {} }))[0]!.type, "image");
    assert.equal(blocks(await c.client.callTool({ name: "fx_audio", arguments: {} }))[0]!.type, "audio");
    const res = await c.client.callTool({ name: "fx_resource", arguments: {} });
    assert.equal(blocks(res)[0]!.resource!.text, "embedded");
    const mixed = await c.client.callTool({ name: "fx_mixed", arguments: {} });
    assert.deepEqual(blocks(mixed).map((b) => b.type), ["text", "image", "resource_link"]);
  });

  test("input is checked against the pinned schema before the server sees it", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    const r = await c.client.callTool({ name: "fx_add", arguments: { a: "two", b: 3 } });
    assert.equal(errorCodeOf(r), "E_INPUT_INVALID");
  });

  test("the server's isError is E_TOOL_FAILED with its text", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    const r = await c.client.callTool({ name: "fx_fail", arguments: {} });
    assert.equal(errorCodeOf(r), "E_TOOL_FAILED");
    assert.match(errorOf(r)!.message, /failed on purpose/);
  });

  test("progress and log notifications reach the client", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    const progress: number[] = [];
    const logs: string[] = [];
    c.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
    const r = await c.client.callTool({ name: "fx_progress", arguments: { n: 3 } }, undefined, { onprogress: (p) => void progress.push(p.progress) });
    assert.deepEqual(r.content, [{ type: "text", text: "done 3" }]);
    await waitFor(() => progress.length === 3, "progress 1..3");
    assert.deepEqual(progress, [1, 2, 3]);
    await c.client.callTool({ name: "fx_logs", arguments: {} });
    await waitFor(() => logs.filter((l) => /^line \d$/.test(l)).length === 3, "three log lines");
  });

  test("sampling, elicitation and roots requests from the server are refused; the client never sees them", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    for (const method of ["sampling/createMessage", "elicitation/create", "roots/list"]) {
      const r = await c.client.callTool({ name: "fx_sample", arguments: { method } });
      const reply = JSON.parse(blocks(r)[0]!.text!);
      assert.equal(reply.error?.code, -32601, `${method}: ${JSON.stringify(reply)}`);
      assert.equal(reply.result, undefined);
    }
    assert.deepEqual(asked, [], "the client was never asked");
  });

  test("a granted secret reaches the server and is redacted from what it returns; an ungranted one is not there", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    const r = await c.client.callTool({ name: "fx_env", arguments: { name: "FIXTURE_SECRET" } });
    assert.deepEqual(r.content, [{ type: "text", text: "[REDACTED]" }]);
    const other = await c.client.callTool({ name: "fx_env", arguments: { name: "WARDEN_FIXTURE_SECRET" } });
    assert.deepEqual(other.content, [{ type: "text", text: "<unset>" }]);
    assert.ok(!readFileSync(ws.auditFile, "utf8").includes(FIXTURE_SECRET));
  });

  test("a server that hangs: E_TIMEOUT within the deadline plus the grace, and its container is killed", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    const started = Date.now();
    const r = await raw(c, "fx_hang");
    const took = Date.now() - started;
    assert.equal(errorCodeOf(r), "E_TIMEOUT");
    assert.ok(took < 4000 + 3000, `took ${took} ms`);
    await waitFor(async () => (await fixtureContainers(ws.owner)) === 0, "the hung server's container to be gone");
    const again = await c.client.callTool({ name: "fx_echo", arguments: { text: "after" } });
    assert.deepEqual(again.content, [{ type: "text", text: "after" }], "the next call starts a new server");
  });

  test("a client cancel ends the call with E_CANCELLED and the container is gone", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    await c.client.callTool({ name: "fx_echo", arguments: { text: "warm" } });
    const controller = new AbortController();
    const pending = raw(c, "fx_hang", {}, { signal: controller.signal }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 300));
    controller.abort("user cancelled");
    await pending;
    await waitFor(() => readAudit(ws.auditFile).some((r) => r.tool === "fx_hang" && r.errorCode === "E_CANCELLED"), "the cancel in the audit log");
    await waitFor(async () => (await fixtureContainers(ws.owner)) === 0, "the cancelled server's container to be gone");
  });

  test("output floods: E_OUTPUT_TOO_LARGE, whether the message is over the budget or over the line bound", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    assert.equal(errorCodeOf(await c.client.callTool({ name: "fx_flood", arguments: { n: 120_000 } })), "E_OUTPUT_TOO_LARGE");
    assert.equal(errorCodeOf(await c.client.callTool({ name: "fx_flood", arguments: { n: 2_000_000 } })), "E_OUTPUT_TOO_LARGE");
    assert.deepEqual((await c.client.callTool({ name: "fx_flood", arguments: { n: 10 } })).content, [{ type: "text", text: "x".repeat(10) }]);
  });

  test("a server that crashes: E_SANDBOX_CRASHED, and the next call starts a new container", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    assert.equal(errorCodeOf(await c.client.callTool({ name: "fx_crash", arguments: {} })), "E_SANDBOX_CRASHED");
    assert.deepEqual((await c.client.callTool({ name: "fx_echo", arguments: { text: "back" } })).content, [{ type: "text", text: "back" }]);
  });

  test("every call is audited like a native tool call", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    const records = readAudit(ws.auditFile).filter((r) => String(r.tool).startsWith("fx_"));
    assert.ok(records.length >= 10);
    const add = records.find((r) => r.tool === "fx_add" && r.outcome === "ok")!;
    assert.equal(add.actor, "stdio");
    assert.equal(add.effect, "read");
    assert.match(String(add.outputSha256), /^[0-9a-f]{64}$/);
  });

  test("the server changes a definition mid-session (list_changed): the tool is withheld, the client is told, calls get E_NOT_APPROVED", async (t) => {
    if (!(await requireServerBackend(t)) || !ready) return;
    let changed = 0;
    c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    await c.client.callTool({ name: "fx_mutate", arguments: {} });
    await waitFor(() => changed > 0, "tools/list_changed to the client");
    const names = (await c.client.listTools()).tools.map((x) => x.name);
    assert.ok(!names.includes("fx_echo"), "the drifted tool is no longer listed");
    assert.ok(names.includes("fx_add"), "unchanged tools stay");
    const r = await c.client.callTool({ name: "fx_echo", arguments: { text: "x" } });
    assert.equal(errorCodeOf(r), "E_NOT_APPROVED");
    assert.match(errorOf(r)!.message, /warden approve fixture/);
    await waitFor(() => alerts.some((a) => a.kind === "approved_tool_drift" && a.tool === "fixture" && /fx_echo/.test(String(a.reason))), "a drift alert naming the tool");
  });
});

describe("pinning across server starts (rug pull between approval and use)", () => {
  test("warden approve shows each tool as clients will see it: name with prefix, effect, description, schemas, untrusted hints", async (t) => {
    if (!(await requireServerBackend(t))) return;
    const ws = fixtureWorkspace();
    const out = await approveFixture(ws.configPath);
    assert.match(out, /fx_echo {2}effect=read/);
    assert.match(out, /fx_write {2}effect=write {2}\(server's hints, not trusted: \{"readOnlyHint":true\}\)/);
    assert.match(out, /description: {2}Echo the text back\./);
    assert.match(out, /inputSchema: {2}\{"type":"object","properties":\{"text":\{"type":"string"\}\},"required":\["text"\]\}/);
    assert.match(out, /outputSchema: \{"type":"object","properties":\{"sum"/);
    assert.match(out, /This tool was never approved before/);
    assert.match(await approveFixture(ws.configPath), /already approved/, "nothing changed: nothing to approve");
    let listed = "";
    process.env.WARDEN_FIXTURE_SECRET = FIXTURE_SECRET;
    await runCli(["list", "--config", ws.configPath], { stdout: (x) => (listed += x), stderr: (x) => (listed += x) });
    assert.match(listed, /fixture@1\.0\.0 {2}mcp-server/);
    assert.match(listed, /image: {6}warden-test\/pyfixture:1 \(sha256:[0-9a-f]{64}\)/, "the image ID bound at approval");
    assert.match(listed, /tools: {6}.*fx_echo \(read\).*fx_write \(write\)/);
    let called = "";
    assert.equal(await runCli(["call", "fx_echo", '{"text":"from the cli"}', "--config", ws.configPath], { stdout: (x) => (called += x), stderr: (x) => (called += x) }), 0, called);
    assert.deepEqual(JSON.parse(called), { content: [{ type: "text", text: "from the cli" }] }, "warden call prints a hosted tool's content blocks");
  });

  test("a changed description withholds the tool, a new tool is not exposed; re-approval exposes both", async (t) => {
    if (!(await requireServerBackend(t))) return;
    const ws = fixtureWorkspace();
    await approveFixture(ws.configPath);
    writeFileSync(join(ws.conf, "variant.txt"), "v2\n");
    const c = await connectStdio(ws.configPath, { env: ENV });
    try {
      // The first call starts the session's server, which now lists v2.
      assert.deepEqual((await c.client.callTool({ name: "fx_add", arguments: { a: 1, b: 1 } })).structuredContent, { sum: 2 });
      await waitFor(async () => !(await c.client.listTools()).tools.some((x) => x.name === "fx_echo"), "fx_echo withheld");
      const names = (await c.client.listTools()).tools.map((x) => x.name);
      assert.ok(!names.includes("fx_newcomer"), "a tool that appeared after approval is not exposed");
      assert.equal(errorCodeOf(await c.client.callTool({ name: "fx_echo", arguments: { text: "x" } })), "E_NOT_APPROVED");
      const nc = await c.client.callTool({ name: "fx_newcomer", arguments: {} });
      assert.equal(errorCodeOf(nc), "E_NOT_APPROVED");
      assert.match(errorOf(nc)!.message, /never approved.*warden approve fixture/);
      const out = await approveFixture(ws.configPath);
      assert.match(out, /CHANGED tool: fx_echo \(description\)/);
      assert.match(out, /NEW tool: fx_newcomer/);
      await waitFor(async () => {
        const now = (await c.client.listTools()).tools.map((x) => x.name);
        return now.includes("fx_echo") && now.includes("fx_newcomer");
      }, "re-approval to expose both");
      assert.deepEqual((await c.client.callTool({ name: "fx_echo", arguments: { text: "ok" } })).content, [{ type: "text", text: "ok" }]);
    } finally {
      await c.close();
    }
  });

  test("a rebuilt image under the same tag is refused until re-approved", async (t) => {
    if (!(await requireServerBackend(t))) return;
    const ws = fixtureWorkspace();
    await approveFixture(ws.configPath);
    const lockFile = join(ws.dir, "warden.lock.json");
    const lock = JSON.parse(readFileSync(lockFile, "utf8"));
    lock.tools.fixture.imageId = `sha256:${"0".repeat(64)}`; // as if the tag had been rebuilt after approval
    writeFileSync(lockFile, JSON.stringify(lock));
    const c = await connectStdio(ws.configPath, { env: ENV });
    try {
      const r = await c.client.callTool({ name: "fx_echo", arguments: { text: "x" } });
      assert.equal(errorCodeOf(r), "E_NOT_APPROVED");
      assert.match(errorOf(r)!.message, /rebuilt since it was approved/);
    } finally {
      await c.close();
    }
    assert.ok(existsSync(lockFile));
  });
});
