import assert from "node:assert/strict";
import { waitFor } from "../helpers/wait.js";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { runCli } from "../../src/cli/main.js";
import { QuarantineCounter } from "../../src/incident/quarantine.js";
import { readAudit } from "../helpers/audit-read.js";
import { errorCodeOf } from "../helpers/result.js";
import { connectHttp, startHttpServer, type HttpServerHandle } from "../helpers/server.js";
import { approveAll, isolateManifest, makeWorkspace } from "../helpers/workspace.js";

const sha = (t: string) => createHash("sha256").update(t).digest("hex");
const TOKEN_A = "tenant-a-token-0123456789";
const TOKEN_B = "tenant-b-token-0123456789";

test("denials count per actor: one actor reaching the count quarantines the tool for that actor only", () => {
  const q = new QuarantineCounter({ denials: 2, windowSec: 60 });
  assert.equal(q.record("t", "E_CAPABILITY_DENIED", "a1", "alice", 0), null);
  assert.equal(q.record("t", "E_CAPABILITY_DENIED", "b1", "bob", 1), null, "one denial each: nobody reached 2");
  const a = q.record("t", "E_CAPABILITY_DENIED", "a2", "alice", 2);
  assert.equal(a?.scope, "actor");
  assert.equal(a?.actor, "alice");
  assert.deepEqual(a?.callIds, ["a1", "a2"], "only alice's calls are charged to alice");
  const b = q.record("t", "E_CAPABILITY_DENIED", "b2", "bob", 3);
  assert.equal(b?.scope, "tool", "a second actor reaching the count in the window quarantines the tool for everybody");
  assert.deepEqual(b?.actors.sort(), ["alice", "bob"]);
});

test("a second actor reaching the count after the window is still only that actor's quarantine", () => {
  const q = new QuarantineCounter({ denials: 1, windowSec: 10 });
  assert.equal(q.record("t", "E_CAPABILITY_DENIED", "a", "alice", 0)?.scope, "actor");
  assert.equal(q.record("t", "E_CAPABILITY_DENIED", "b", "bob", 20_000)?.scope, "actor");
});

test("crashes are the tool's own doing: they quarantine it for everybody", () => {
  const q = new QuarantineCounter({ crashes: 2, windowSec: 60 });
  assert.equal(q.record("t", "E_SANDBOX_CRASHED", "a", "alice", 0), null);
  assert.equal(q.record("t", "E_SANDBOX_CRASHED", "b", "bob", 1)?.scope, "tool");
});

describe_two_tenants();

function describe_two_tenants(): void {
  const events: Array<Record<string, unknown>> = [];
  const hook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += String(d)));
    req.on("end", () => {
      events.push(JSON.parse(body));
      res.end("ok");
    });
  });
  const ws = makeWorkspace({
    tools: {
      getter: {
        manifest: isolateManifest("getter", {
          owner: "tools@example.org",
          capabilities: { network: { allow: ["api.example.com"] } },
          inputSchema: { type: "object", properties: { url: { type: "string" } } },
          outputSchema: { type: "object", properties: { fetched: { type: "boolean" } }, required: ["fetched"] },
        }),
        // The client chooses the URL: a hostile client makes the tool hit denials.
        files: { "index.js": "export default async function run(input, ctx) { if (input.url) await ctx.fetch(input.url); return { fetched: Boolean(input.url) }; }\n" },
      },
    },
    config: {
      quarantine: { denials: 2, windowSec: 60 },
      http: { listen: "127.0.0.1:0", tokens: [{ name: "tenant_a", sha256: sha(TOKEN_A) }, { name: "tenant_b", sha256: sha(TOKEN_B) }] },
    },
  });
  let srv: HttpServerHandle;
  before(async () => {
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", () => r()));
    const cfg = JSON.parse(readFileSync(ws.configPath, "utf8"));
    cfg.alerts = { webhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts` };
    const { writeFileSync } = await import("node:fs");
    writeFileSync(ws.configPath, JSON.stringify(cfg, null, 2));
    await approveAll(ws);
    srv = await startHttpServer(ws.configPath);
  });
  after(async () => {
    await srv?.stop();
    hook.close();
  });

  test("over HTTP: tenant A is quarantined alone, B keeps results until B trips it too; both audited and alerted; warden enable lifts both", async () => {
    const a = await connectHttp(srv.url, { token: TOKEN_A });
    const b = await connectHttp(srv.url, { token: TOKEN_B });
    const call = (c: typeof a, args: Record<string, unknown>) => c.client.request({ method: "tools/call", params: { name: "getter", arguments: args } }, CallToolResultSchema);
    const hostile = { url: "https://evil.example/x" };
    try {
      assert.equal(errorCodeOf(await call(a, hostile)), "E_CAPABILITY_DENIED");
      assert.equal(errorCodeOf(await call(a, hostile)), "E_CAPABILITY_DENIED");
      assert.equal(errorCodeOf(await call(a, {})), "E_DISABLED", "A reached the count: the tool is off for A");
      assert.deepEqual((await b.client.callTool({ name: "getter", arguments: {} })).structuredContent, { fetched: false }, "B still gets results");
      assert.deepEqual((await a.client.listTools()).tools.map((t) => t.name), [], "A no longer sees the tool");
      assert.deepEqual((await b.client.listTools()).tools.map((t) => t.name), ["getter"]);
      const afterA = JSON.parse(readFileSync(ws.configPath, "utf8"));
      assert.deepEqual(afterA.quarantined, { getter: ["tenant_a"] }, "persisted per actor");
      assert.deepEqual(afterA.disabled ?? [], [], "not disabled for everybody");

      assert.equal(errorCodeOf(await call(b, hostile)), "E_CAPABILITY_DENIED");
      assert.equal(errorCodeOf(await call(b, hostile)), "E_CAPABILITY_DENIED");
      assert.equal(errorCodeOf(await call(b, {})), "E_DISABLED", "two actors reached it: off for everybody");
      assert.equal(errorCodeOf(await call(a, {})), "E_DISABLED");
      assert.deepEqual(JSON.parse(readFileSync(ws.configPath, "utf8")).disabled, ["getter"]);

      const audit = readAudit(ws.auditFile).filter((r) => r.tool === "getter");
      assert.deepEqual(
        audit.map((r) => `${r.actor}:${r.errorCode ?? "ok"}`),
        ["tenant_a:E_CAPABILITY_DENIED", "tenant_a:E_CAPABILITY_DENIED", "tenant_a:E_DISABLED", "tenant_b:ok", "tenant_b:E_CAPABILITY_DENIED", "tenant_b:E_CAPABILITY_DENIED", "tenant_b:E_DISABLED", "tenant_a:E_DISABLED"],
      );
      await waitFor(() => events.filter((e) => e.kind === "quarantine").length >= 2, "two quarantine alerts");
      const [first, second] = events.filter((e) => e.kind === "quarantine");
      assert.equal(first!.scope, "actor");
      assert.equal(first!.actor, "tenant_a");
      assert.equal(first!.owner, "tools@example.org");
      assert.match(String(first!.reason), /tenant_a only/);
      assert.equal(second!.scope, "tool");
      assert.deepEqual((second!.actors as string[]).sort(), ["tenant_a", "tenant_b"]);

      let out = "";
      assert.equal(await runCli(["enable", "getter", "--config", ws.configPath], { stdout: (t) => (out += t), stderr: (t) => (out += t) }), 0, out);
      const lifted = JSON.parse(readFileSync(ws.configPath, "utf8"));
      assert.deepEqual([lifted.disabled, lifted.quarantined], [[], {}], "enable lifts the tool-wide and the per-actor quarantine");
      await waitFor(async () => errorCodeOf(await call(a, {})) === undefined, "A's calls work again after warden enable");
      assert.equal(errorCodeOf(await call(b, {})), undefined);
    } finally {
      await a.close();
      await b.close();
    }
  });
}

