import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, appendFileSync } from "node:fs";
import { describe, test } from "node:test";
import { CallToolResultSchema, ElicitRequestSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { readAudit } from "../helpers/audit-read.js";
import { CLI_MAIN, connectStdio } from "../helpers/server.js";
import { approveAll, makeWorkspace } from "../helpers/workspace.js";
import { TEST_TOOLS } from "../mcp/tools.js";
import { errorCodeOf, errorOf } from "../helpers/result.js";

function cli(args: string[], input?: string) {
  return spawnSync(process.execPath, ["--no-node-snapshot", CLI_MAIN(), ...args], { input: input ?? "", encoding: "utf8", env: { ...process.env, WARDEN_LOG_LEVEL: "warn" } });
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Conn = Awaited<ReturnType<typeof connectStdio>>;
const codeOf = errorCodeOf;
const call = (c: Conn, name: string, args: Record<string, unknown> = {}, signal?: AbortSignal) =>
  c.client.request({ method: "tools/call", params: { name, arguments: args } }, CallToolResultSchema, signal ? { signal } : undefined);

describe("approvals (SPEC §7)", () => {
  test("an unapproved tool is not listed and every call fails with E_NOT_APPROVED naming the command", async () => {
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
    const c = await connectStdio(ws.configPath);
    try {
      assert.deepEqual((await c.client.listTools()).tools, []);
      const r = await call(c, "adder", { a: 1, b: 2 });
      assert.equal(codeOf(r), "E_NOT_APPROVED");
      assert.match(errorOf(r)!.message, /warden approve adder/);
    } finally {
      await c.close();
    }
  });

  test("warden approve asks y/N: 'n' approves nothing, --yes records the digest", () => {
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
    const no = cli(["approve", "adder", "--config", ws.configPath], "n\n");
    assert.equal(no.status, 1);
    assert.match(no.stdout, /never approved before/);
    const yes = cli(["approve", "adder", "--yes", "--config", ws.configPath]);
    assert.equal(yes.status, 0, yes.stderr);
    const lock = JSON.parse(readFileSync(`${ws.dir}/warden.lock.json`, "utf8"));
    assert.match(lock.tools.adder.digest, /^sha256:[0-9a-f]{64}$/);
    const list = cli(["list", "--config", ws.configPath]);
    assert.match(list.stdout, /adder@1\.0\.0 .* approved/);
  });

  test("approving an update that adds a host shows that host as new", async () => {
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
    await approveAll(ws);
    const manifestPath = `${ws.toolDir("adder")}/manifest.json`;
    const m = JSON.parse(readFileSync(manifestPath, "utf8"));
    m.version = "1.1.0";
    m.capabilities = { network: { allow: ["api.example.com"] } };
    writeFileSync(manifestPath, JSON.stringify(m));
    const r = cli(["approve", "adder", "--config", ws.configPath], "n\n");
    assert.match(r.stdout, /NEW network host: api\.example\.com/);
    assert.match(r.stdout, /version 1\.0\.0 → 1\.1\.0/);
  });

  test("editing a file of an approved tool while the server runs drops the approval and sends list_changed", async () => {
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
    await approveAll(ws);
    const c = await connectStdio(ws.configPath);
    try {
      let changed = 0;
      c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        changed++;
      });
      assert.equal((await c.client.listTools()).tools.length, 1);
      appendFileSync(`${ws.toolDir("adder")}/index.js`, "\n// sneaky edit\n");
      await waitFor("list_changed", () => changed > 0 || undefined);
      assert.deepEqual((await c.client.listTools()).tools, []);
      assert.equal(codeOf(await call(c, "adder", { a: 1, b: 1 })), "E_NOT_APPROVED");
    } finally {
      await c.close();
    }
  });
});

describe("kill switch (SPEC §6)", () => {
  test("warden disable during a long call cancels it (audited), refuses new calls and sends list_changed; enable restores", async () => {
    const ws = makeWorkspace({ tools: { sleeper: TEST_TOOLS.sleeper!, adder: TEST_TOOLS.adder! } });
    await approveAll(ws);
    const c = await connectStdio(ws.configPath);
    try {
      let changed = 0;
      c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        changed++;
      });
      const long = call(c, "sleeper");
      await new Promise((r) => setTimeout(r, 300));
      const d = cli(["disable", "sleeper", "--config", ws.configPath]);
      assert.equal(d.status, 0, d.stderr);
      const disabledAt = Date.now();
      const r = await long;
      assert.equal(codeOf(r), "E_CANCELLED");
      assert.ok(Date.now() - disabledAt < 5000, "cancelled soon after the config changed, long before its 15 s of work");
      await waitFor("list_changed", () => changed > 0 || undefined);
      assert.deepEqual((await c.client.listTools()).tools.map((t) => t.name), ["adder"]);
      assert.equal(codeOf(await call(c, "sleeper")), "E_DISABLED");
      const audit = readAudit(ws.auditFile);
      assert.equal(audit.find((a) => a.tool === "sleeper")?.errorCode, "E_CANCELLED");
      // a class works the same way, and enable brings the tool back
      assert.equal(cli(["disable", "read", "--config", ws.configPath]).status, 0);
      await waitFor("read class disabled", async () => ((await c.client.listTools()).tools.length === 0 ? true : undefined));
      assert.equal(codeOf(await call(c, "adder", { a: 1, b: 1 })), "E_DISABLED");
      assert.equal(cli(["enable", "read", "--config", ws.configPath]).status, 0);
      assert.equal(cli(["enable", "sleeper", "--config", ws.configPath]).status, 0);
      await waitFor("enabled again", async () => ((await c.client.listTools()).tools.length === 2 ? true : undefined));
    } finally {
      await c.close();
    }
  });

  test("an invalid hand edit of the config is refused and the last good config stays in force", async () => {
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
    await approveAll(ws);
    const c = await connectStdio(ws.configPath);
    try {
      const good = readFileSync(ws.configPath, "utf8");
      writeFileSync(ws.configPath, good.replace('"tools"', '"disabled": ["adder"], "bogusKey": 1, "tools"'));
      // The state to wait for: the server read the edit and refused it (not a fixed second).
      await waitFor("the reload to be refused", () => /reload refused/.test(c.stderr()) || undefined);
      const r = await call(c, "adder", { a: 2, b: 2 });
      assert.deepEqual(r.structuredContent, { sum: 4 }, "the invalid edit (with its disable) was not applied");
    } finally {
      await c.close();
    }
  });
});

describe("confirmation (SPEC §8)", () => {
  test("cancel and a human who never answers both refuse the call; one acceptance never covers a second call", async () => {
    const ws = makeWorkspace({ tools: { eraser: TEST_TOOLS.eraser! }, config: { confirmTimeoutMs: 500 } });
    await approveAll(ws);
    const c = await connectStdio(ws.configPath, { capabilities: { elicitation: {} } });
    try {
      const plan = ["cancel", "hang", "accept", "decline"];
      let asked = 0;
      c.client.setRequestHandler(ElicitRequestSchema, async () => {
        asked++;
        const step = plan.shift();
        if (step === "hang") return new Promise(() => {});
        if (step === "accept") return { action: "accept", content: { confirm: true } };
        return { action: step as "cancel" | "decline" };
      });
      assert.equal(codeOf(await call(c, "eraser", { target: "a" })), "E_NOT_CONFIRMED");
      assert.equal(codeOf(await call(c, "eraser", { target: "b" })), "E_NOT_CONFIRMED");
      assert.deepEqual((await call(c, "eraser", { target: "c" })).structuredContent, { erased: "c" });
      assert.equal(codeOf(await call(c, "eraser", { target: "d" })), "E_NOT_CONFIRMED");
      assert.equal(asked, 4, "every call asks again");
      const audit = readAudit(ws.auditFile);
      assert.deepEqual(audit.map((a) => a.confirmedBy), [null, null, "stdio", null]);
    } finally {
      await c.close();
    }
  });

  test("an accept without confirm=true is not a confirmation", async () => {
    const ws = makeWorkspace({ tools: { eraser: TEST_TOOLS.eraser! } });
    await approveAll(ws);
    const c = await connectStdio(ws.configPath, { capabilities: { elicitation: {} } });
    try {
      c.client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { confirm: false } }));
      assert.equal(codeOf(await call(c, "eraser", { target: "x" })), "E_NOT_CONFIRMED");
    } finally {
      await c.close();
    }
  });
});
