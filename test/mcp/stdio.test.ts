import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CallToolResultSchema, ElicitRequestSchema, LoggingMessageNotificationSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { verifyAuditChain } from "../../src/audit/index.js";
import { readAudit } from "../helpers/audit-read.js";
import { errorCodeOf as errorCode, errorOf } from "../helpers/result.js";
import { connectStdio } from "../helpers/server.js";
import { approveAll, makeWorkspace } from "../helpers/workspace.js";
import { LEAK_CONFIG, LEAK_ENV, LEAK_SECRET, TEST_TOOLS } from "./tools.js";

type Connected = Awaited<ReturnType<typeof connectStdio>>;

/** tools/call through the raw request: the SDK client would itself reject error results of tools with an outputSchema. */
async function rawCall(c: Connected, name: string, args: Record<string, unknown>) {
  return c.client.request({ method: "tools/call", params: { name, arguments: args } }, CallToolResultSchema);
}


describe("MCP over stdio (real SDK client, warden serve child process)", () => {
  const ws = makeWorkspace({ tools: TEST_TOOLS, config: { ...LEAK_CONFIG, disabled: ["writer"] } });
  let c: Connected;
  before(async () => {
    await approveAll(ws);
    c = await connectStdio(ws.configPath, { env: LEAK_ENV });
  });
  after(async () => {
    await c?.close();
  });

  test("tools/list shows enabled tools with schemas, title and annotations from the effect", async () => {
    const { tools } = await c.client.listTools();
    const names = tools.map((t) => t.name).sort();
    assert.ok(!names.includes("writer"), "a disabled tool is not listed");
    const adder = tools.find((t) => t.name === "adder")!;
    assert.equal(adder.title, "Adder");
    assert.deepEqual(adder.outputSchema?.required, ["sum"]);
    assert.equal(adder.annotations?.readOnlyHint, true);
    assert.equal(adder.annotations?.destructiveHint, false);
    const eraser = tools.find((t) => t.name === "eraser")!;
    assert.equal(eraser.annotations?.destructiveHint, true);
    assert.equal(eraser.annotations?.readOnlyHint, false);
  });

  test("a call returns structuredContent = the validated output plus a text rendering", async () => {
    const r = await c.client.callTool({ name: "adder", arguments: { a: 2, b: 40 } });
    assert.equal(r.isError, undefined);
    assert.deepEqual(r.structuredContent, { sum: 42 });
    assert.match((r.content as Array<{ text: string }>)[0]!.text, /42/);
  });

  test("an unknown tool is a JSON-RPC error, not a result", async () => {
    await assert.rejects(c.client.callTool({ name: "nope", arguments: {} }), /unknown tool/);
  });

  test("input that does not match inputSchema is refused before the sandbox runs", async () => {
    const r = await rawCall(c, "adder", { a: 1 });
    assert.equal(r.isError, true);
    assert.equal(errorCode(r), "E_INPUT_INVALID");
  });

  // SPEC §8: SDK 1.x Client.callTool validates any structuredContent against the tool's
  // outputSchema, even on isError results, and throws -32602. An error result therefore
  // carries no structuredContent: these go through callTool itself, not a raw request.
  describe("error results of tools with an outputSchema reach an SDK client (Client.callTool does not throw)", () => {
    const expectError = async (name: string, args: Record<string, unknown>, code: string) => {
      const r = await c.client.callTool({ name, arguments: args });
      assert.equal(r.isError, true);
      assert.equal(r.structuredContent, undefined, "an error result carries no structuredContent");
      assert.equal(errorCode(r), code);
      const text = (r.content as Array<{ type: string; text: string }>)[0]!;
      assert.equal((r.content as unknown[]).length, 1, "one text block");
      assert.equal(text.type, "text");
      assert.equal(text.text, `${code}: ${errorOf(r)!.message}`);
      return r;
    };
    test("invalid input → E_INPUT_INVALID", async () => {
      await expectError("adder", { a: 1 }, "E_INPUT_INVALID");
    });
    test("a capability denial → E_CAPABILITY_DENIED", async () => {
      const r = await expectError("snooper", {}, "E_CAPABILITY_DENIED");
      assert.match(errorOf(r)!.message, /evil\.example/);
    });
    test("a timeout → E_TIMEOUT", async () => {
      await expectError("laggard", {}, "E_TIMEOUT");
    });
    test("invalid output → E_OUTPUT_INVALID", async () => {
      await expectError("liar", {}, "E_OUTPUT_INVALID");
    });
  });

  test("output that does not match outputSchema is refused", async () => {
    const r = await rawCall(c, "liar", {});
    assert.equal(errorCode(r), "E_OUTPUT_INVALID");
  });

  test("a throwing tool gives E_TOOL_FAILED with its message", async () => {
    const r = await rawCall(c, "thrower", {});
    assert.equal(errorCode(r), "E_TOOL_FAILED");
    assert.match(errorOf(r)!.message, /kaput/);
  });

  test("a disabled tool answers E_DISABLED", async () => {
    const r = await rawCall(c, "writer", {});
    assert.equal(errorCode(r), "E_DISABLED");
  });

  test("a destructive call from a client without elicitation is not confirmed and never runs", async () => {
    const r = await rawCall(c, "eraser", { target: "everything" });
    assert.equal(errorCode(r), "E_NOT_CONFIRMED");
  });

  test("progress and log notifications from the tool are forwarded, all before the result", async () => {
    // Asserted on the wire: the SDK 1.x client runs notification handlers a microtask late, so a
    // progress notification that arrives in the same chunk as the response can miss its handler
    // (measured: [1, 2] with all three on the wire). What warden sends is the contract.
    const wire: string[] = [];
    const original = c.transport.onmessage!;
    c.transport.onmessage = (message: JSONRPCMessage) => {
      const m = message as { method?: string; id?: unknown; params?: { progress?: number; data?: unknown } };
      if (m.method === "notifications/progress") wire.push(`progress ${m.params?.progress}`);
      else if (m.method === "notifications/message") wire.push(`log ${String(m.params?.data)}`);
      else if (m.id !== undefined && !m.method) wire.push("result");
      original(message);
    };
    try {
      const r = await c.client.callTool({ name: "chatty", arguments: { n: 3 } }, undefined, { onprogress: () => {} });
      assert.deepEqual(r.structuredContent, { done: 3 });
      assert.deepEqual(wire, ["progress 1", "log step 1", "progress 2", "log step 2", "progress 3", "log step 3", "result"]);
    } finally {
      c.transport.onmessage = original;
    }
  });

  test("a secret echoed by a tool is redacted from the result, the logs and the audit record", async () => {
    const logs: string[] = [];
    c.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(String(n.params.data));
    });
    const r = await c.client.callTool({ name: "leaker", arguments: { mine: LEAK_SECRET } });
    const text = JSON.stringify(r);
    assert.ok(!text.includes(LEAK_SECRET), "secret in result");
    assert.deepEqual(r.structuredContent, { key: "[REDACTED]", note: "k=[REDACTED]" });
    await new Promise((res) => setTimeout(res, 50));
    assert.ok(logs.some((l) => l === "key is [REDACTED]"), `logs: ${logs.join(",")}`);
    const audit = readAudit(ws.auditFile);
    const rec = audit.find((a) => a.tool === "leaker")!;
    assert.equal(rec.outputRedacted, true);
    assert.ok(!JSON.stringify(audit).includes(LEAK_SECRET), "secret in audit");
  });

  test("cancellation stops the sandbox and the call is audited as E_CANCELLED", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const p = c.client.callTool({ name: "sleeper", arguments: {} }, undefined, { signal: controller.signal });
    setTimeout(() => controller.abort("user cancelled"), 300);
    await assert.rejects(p);
    // The server records the outcome once the sandbox is stopped.
    let rec;
    for (let i = 0; i < 100 && !rec; i++) {
      await new Promise((res) => setTimeout(res, 50));
      rec = readAudit(ws.auditFile).find((a) => a.tool === "sleeper");
    }
    assert.equal(rec?.errorCode, "E_CANCELLED");
    assert.ok(Date.now() - started < 5000, "cancelled well before the tool's 15 s of work");
  });

  test("every attempt, refused ones included, has one audit record and the chain verifies", async () => {
    // Its own attempts, so it holds whatever ran (or did not run) before it: exactly one new record each, in order.
    const before = readAudit(ws.auditFile).length;
    const attempts: Array<[name: string, args: Record<string, unknown>, code: string | null]> = [
      ["adder", { a: 1, b: 2 }, null],
      ["nope", {}, "E_UNKNOWN_TOOL"],
      ["adder", { a: 1 }, "E_INPUT_INVALID"],
      ["liar", {}, "E_OUTPUT_INVALID"],
      ["thrower", {}, "E_TOOL_FAILED"],
      ["writer", {}, "E_DISABLED"],
      ["eraser", { target: "everything" }, "E_NOT_CONFIRMED"],
    ];
    for (const [name, args] of attempts) await rawCall(c, name, args).catch(() => undefined);
    const added = readAudit(ws.auditFile).slice(before);
    assert.deepEqual(
      added.map((a) => [a.tool, a.errorCode ?? null]),
      attempts.map(([name, , code]) => [name, code]),
    );
    assert.ok(added.every((a) => a.actor === "stdio"));
    const report = await verifyAuditChain(ws.auditFile);
    assert.equal(report.ok, true, report.reason ?? "");
  });
});

describe("confirmation by elicitation (stdio)", () => {
  const ws = makeWorkspace({ tools: { eraser: TEST_TOOLS.eraser! } });

  test("accept runs the call once and the audit says who confirmed; decline refuses", async () => {
    await approveAll(ws);
    const c = await connectStdio(ws.configPath, { capabilities: { elicitation: {} } });
    try {
      const answers = ["accept", "decline"];
      const seen: string[] = [];
      c.client.setRequestHandler(ElicitRequestSchema, async (req) => {
        seen.push(String(req.params.message));
        const action = answers.shift()!;
        return action === "accept" ? { action: "accept", content: { confirm: true } } : { action: "decline" };
      });
      const ok = await c.client.callTool({ name: "eraser", arguments: { target: "old-logs" } });
      assert.deepEqual(ok.structuredContent, { erased: "old-logs" });
      assert.match(seen[0]!, /eraser/);
      assert.match(seen[0]!, /old-logs/, "the human sees the exact arguments");
      assert.match(seen[0]!, /destructive/);
      const no = await rawCall(c, "eraser", { target: "prod" });
      assert.equal(errorCode(no), "E_NOT_CONFIRMED");
      const audit = readAudit(ws.auditFile);
      assert.equal(audit[0]!.confirmedBy, "stdio");
      assert.equal(audit[1]!.confirmedBy, null);
    } finally {
      await c.close();
    }
  });
});
