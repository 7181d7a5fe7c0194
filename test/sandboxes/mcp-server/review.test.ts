/**
 * Regressions from the hostile review of the mcp-server backend (SPEC §15): a hostile stdio
 * server (test/fixtures/mcp-servers/hostile) floods logs and progress, loops list_changed, lies,
 * squats names, refuses to die. Each test asserts the contract and failed before its fix.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { CallToolResultSchema, LoggingMessageNotificationSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { connectHttp, connectStdio, startHttpServer } from "../../helpers/server.js";
import { approveFixture, FIXTURE_SECRET, fixtureContainers, fixtureManifest, fixtureWorkspace, mcpServerBackendAvailable, requireReady } from "./fixture.js";
import { makeWorkspace } from "../../helpers/workspace.js";
import { runCli } from "../../../src/cli/main.js";
import { buildToolImage } from "../../../sandboxes/docker/images.js";
import { docker } from "../container/fixture.js";
import { repoRoot } from "../../helpers/paths.js";

const HOSTILE_IMAGE = "warden-test/hostile:1";
let hostile: Promise<true | string> | undefined;
function hostileImage(): Promise<true | string> {
  hostile ??= (async () => {
    const base = await mcpServerBackendAvailable();
    if (base !== true) return base;
    await buildToolImage(docker, join(repoRoot(), "test", "fixtures", "mcp-servers", "hostile"), HOSTILE_IMAGE, () => {});
    return true as const;
  })().catch((err: unknown) => `hostile server image: ${(err as Error).message}`);
  return hostile;
}
function requireHostile(t: TestContext): Promise<boolean> {
  return requireReady(t, hostileImage(), "hostile hosted-server");
}

const ENV = { WARDEN_FIXTURE_SECRET: FIXTURE_SECRET };
const MANIFEST = {
  image: HOSTILE_IMAGE,
  command: ["python3", "-u", "/app/server.py"],
  toolPrefix: "fx_",
  effect: "read",
  effects: {},
  capabilities: { env: ["FIXTURE_SECRET"] },
  limits: { timeoutMs: 20000, memoryMb: 128, outputBytes: 1_000_000 },
};
const call = (c: { client: any }, name: string, args: Record<string, unknown> = {}) =>
  c.client.request({ method: "tools/call", params: { name, arguments: args } }, CallToolResultSchema, { timeout: 60_000 });
const textOf = (r: any): string => r.content.map((b: any) => b.text ?? "").join("");

describe("review: hostile hosted server over stdio", () => {
  const alerts: unknown[] = [];
  const hook = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      alerts.push(1);
      res.end("ok");
    });
  });
  let c: Awaited<ReturnType<typeof connectStdio>>;
  let logBytes = 0;
  let logCount = 0;
  before(async () => {
    if ((await hostileImage()) !== true) return;
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", () => r()));
    const ws = fixtureWorkspace({ alerts: { webhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/` } }, MANIFEST);
    await approveFixture(ws.configPath);
    c = await connectStdio(ws.configPath, { env: ENV });
    c.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logCount++;
      logBytes += JSON.stringify(n.params.data).length;
    });
  });
  after(async () => {
    await c?.close();
    hook.close();
  });

  test("F1 log notifications are bounded per call (isolate: 8192 chars, N per call; container: PROGRESS_MAX)", async (t) => {
    if (!(await requireHostile(t))) return;
    const r = await call(c, "fx_logflood", { n: 400, size: 900_000 });
    console.error(`F1 result=${textOf(r)} logs=${logCount} bytes=${logBytes}`);
    assert.ok(logBytes <= 10 * 1_000_000, `client received ${logBytes} bytes of log notifications in ${logCount} messages from one call (outputBytes 1e6)`);
  });

  test("F2 a list_changed loop does not make warden re-read tools/list once per notification", async (t) => {
    if (!(await requireHostile(t))) return;
    const t0 = Date.now();
    await call(c, "fx_listloop", { n: 2000 });
    await new Promise((r) => setTimeout(r, 3000));
    const n = Number(textOf(await call(c, "fx_count")));
    console.error(`F2 tools/list requests after 2000 list_changed: ${n} (${Date.now() - t0} ms)`);
    assert.ok(n < 50, `warden sent ${n} tools/list requests`);
  });

  test("F3 drift alerts: a server renaming unapproved tools each listing cannot flood the alert channel", async (t) => {
    if (!(await requireHostile(t))) return;
    const before = alerts.length;
    await call(c, "fx_rename", { n: 100, loops: 10 });
    await new Promise((r) => setTimeout(r, 4000));
    console.error(`F3 alerts raised: ${alerts.length - before}`);
    assert.ok(alerts.length - before < 50, `${alerts.length - before} alerts`);
  });

  test("F9 a cancelled call whose server answers within the grace does not cost the session its server", async (t) => {
    if (!(await requireHostile(t))) return;
    await call(c, "fx_listloop", { n: 5 });
    await new Promise((r) => setTimeout(r, 1000));
    const lists0 = Number(textOf(await call(c, "fx_count")));
    const ac = new AbortController();
    const p = c.client.request({ method: "tools/call", params: { name: "fx_rename", arguments: { n: 0, loops: 4 } } }, CallToolResultSchema, { signal: ac.signal }).catch(() => null);
    setTimeout(() => ac.abort(), 50);
    await p;
    await new Promise((r) => setTimeout(r, 2500));
    const lists1 = Number(textOf(await call(c, "fx_count")));
    console.error(`F9 tools/list count before=${lists0} after cancel=${lists1} (a reset means a new container)`);
    assert.ok(lists1 >= lists0, "the session's server was killed although it answered within the grace");
  });

  test("F10 a server that changes a tool and then fails the re-read keeps being trusted with the old list", async (t) => {
    if (!(await requireHostile(t))) return;
    const lists0 = Number(textOf(await call(c, "fx_count")));
    await call(c, "fx_hidechange");
    await new Promise((r) => setTimeout(r, 1500));
    const r = await call(c, "fx_echo", { text: "still-trusted" });
    console.error(`F10 echo after list_changed + failing tools/list: ${textOf(r).slice(0, 120)}`);
    // Either refused, or run on a NEW server whose list was checked (its tools/list count starts over).
    assert.ok(r.isError || Number(textOf(await call(c, "fx_count"))) < lists0, "the call ran on a server whose current definitions could not be checked");
  });

  test("F12 server-to-client requests: refused, and warden's own log is not flooded (junk lines are capped at 10)", async (t) => {
    if (!(await requireHostile(t))) return;
    const before = (c.stderr().match(/sent a request to the client/g) ?? []).length;
    await call(c, "fx_reqflood", { n: 5000 });
    await new Promise((r) => setTimeout(r, 1000));
    const n = (c.stderr().match(/sent a request to the client/g) ?? []).length - before;
    console.error(`F12 warden log lines for 5000 refused server requests: ${n}`);
    assert.ok(n <= 20, `${n} warn lines`);
  });

  test("F14 secrets in log notifications / stderr are redacted; progress notifications are bounded", async (t) => {
    if (!(await requireHostile(t))) return;
    const seen: string[] = [];
    c.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void seen.push(JSON.stringify(n.params.data)));
    await call(c, "fx_leaklog");
    console.error(`F14 logs seen: ${seen.join(" | ").slice(0, 200)}`);
    assert.ok(!seen.join("").includes(FIXTURE_SECRET), "secret in a forwarded log");
    let progress = 0;
    await c.client.request({ method: "tools/call", params: { name: "fx_progflood", arguments: { n: 20000 } } }, CallToolResultSchema, { onprogress: () => void progress++, timeout: 60_000 });
    console.error(`F14 progress notifications forwarded for one call: ${progress}`);
    assert.ok(progress <= 1000, `${progress} progress notifications`);
  });

  test("F4 a JSON-RPC error text of the server is redacted of granted secrets", async (t) => {
    if (!(await requireHostile(t))) return;
    const r = await call(c, "fx_rpcerr");
    console.error(`F4 ${textOf(r)}`);
    assert.ok(!JSON.stringify(r).includes(FIXTURE_SECRET), "secret leaked");
  });

  test("F5 deep JSON from the server: warden keeps serving", async (t) => {
    if (!(await requireHostile(t))) return;
    const r1 = await call(c, "fx_deep", { d: 150000 }).catch((e: Error) => ({ content: [{ type: "text", text: `threw ${e.message}` }] }));
    console.error(`F5 deep: ${textOf(r1).slice(0, 200)}`);
    const r2 = await call(c, "fx_deeplog", { d: 150000 }).catch((e: Error) => ({ content: [{ type: "text", text: `threw ${e.message}` }] }));
    console.error(`F5 deeplog: ${textOf(r2).slice(0, 200)}`);
    const r3 = await call(c, "fx_echo", { text: "alive" });
    assert.equal(textOf(r3), "alive");
  });
});

describe("review: two tenants over HTTP", () => {
  const tok = (s: string) => ({ token: s, entry: { name: s, sha256: createHash("sha256").update(s).digest("hex") } });
  const a = tok("tenant-a-token-0123456789");
  const b = tok("tenant-b-token-0123456789");
  let srv: Awaited<ReturnType<typeof startHttpServer>>;
  let owner = "";
  before(async () => {
    if ((await hostileImage()) !== true) return;
    const ws = fixtureWorkspace({ http: { listen: "127.0.0.1:0", tokens: [a.entry, b.entry] } }, MANIFEST);
    owner = ws.owner;
    await approveFixture(ws.configPath);
    srv = await startHttpServer(ws.configPath, ENV);
  });
  after(async () => {
    await srv?.stop?.();
  });

  test("F6 tenant A's drifting session server withholds the tool from tenant B / B's clean list un-withholds A", async (t) => {
    if (!(await requireHostile(t))) return;
    const ca = await connectHttp(srv.url, { token: a.token });
    const cb = await connectHttp(srv.url, { token: b.token });
    assert.equal(textOf(await call(cb, "fx_echo", { text: "b1" })), "b1");
    await call(ca, "fx_mutate", { on: true });
    await new Promise((r) => setTimeout(r, 1500));
    const bList = (await cb.client.listTools()).tools.map((t: any) => t.name);
    const bCall = await call(cb, "fx_echo", { text: "b2" });
    console.error(`F6 B sees fx_echo: ${bList.includes("fx_echo")}; B call: ${textOf(bCall).slice(0, 120)}`);
    // B's own server re-lists (clean): the global verdict flips back although A's server still drifts
    await call(cb, "fx_listloop", { n: 1 });
    await new Promise((r) => setTimeout(r, 1500));
    const aList = (await ca.client.listTools()).tools.map((t: any) => t.name);
    console.error(`F6 after B's clean relist, A (drifted) is shown fx_echo: ${aList.includes("fx_echo")}`);
    console.error(`F6 containers of this workspace: ${await fixtureContainers(owner)}`);
    await ca.close();
    await cb.close();
    // warden's rule (docs/spec-notes.md): a drift seen by any session's server withholds the tool for every
    // session until re-approval — the server is the same image for everyone, and the verdict never flaps back.
    assert.ok(!bList.includes("fx_echo") && bCall.isError, "the drifted tool is withheld for every session");
    assert.ok(!aList.includes("fx_echo"), "a clean re-list by another session does not un-withhold it");
  });
});

describe("review: cross-tenant notification flood", () => {
  test("F11 tenant A toggling its own server's definitions floods tenant B with tools/list_changed", async (t) => {
    if (!(await requireHostile(t))) return;
    const a = { token: "tenant-a-token-0123456789" };
    const b = { token: "tenant-b-token-0123456789" };
    const entry = (s: string) => ({ name: s.slice(0, 8), sha256: createHash("sha256").update(s).digest("hex") });
    const ws = fixtureWorkspace({ http: { listen: "127.0.0.1:0", tokens: [entry(a.token), entry(b.token)] } }, MANIFEST);
    await approveFixture(ws.configPath);
    const srv = await startHttpServer(ws.configPath, ENV);
    const ca = await connectHttp(srv.url, a);
    const cb = await connectHttp(srv.url, b);
    let bNotified = 0;
    cb.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void bNotified++);
    try {
      await cb.client.listTools();
      for (let i = 0; i < 20; i++) {
        await call(ca, "fx_mutate", { on: i % 2 === 0 });
        await new Promise((r) => setTimeout(r, 150));
        await cb.client.listTools(); // B re-reads like a real client would
      }
      await new Promise((r) => setTimeout(r, 1000));
      console.error(`F11 tools/list_changed sent to tenant B while A toggled 20 times: ${bNotified}`);
      assert.ok(bNotified < 3, `${bNotified} list_changed to an unrelated tenant`);
    } finally {
      await ca.close();
      await cb.close();
      await srv.stop();
    }
  });
});

describe("review: per-tool effect raise in grants (SPEC §15 effect row)", () => {
  test("F13 grants.<server>.effects raises one tool to destructive: it needs confirmation", async (t) => {
    if (!(await requireHostile(t))) return;
    const ws = fixtureWorkspace({ confirm: ["destructive"], grants: { fixture: { effects: { echo: "destructive" } } } }, MANIFEST);
    let out = "";
    const saved = { ...process.env };
    Object.assign(process.env, ENV);
    const code = await runCli(["approve", "fixture", "--yes", "--config", ws.configPath], { stdout: (t) => (out += t), stderr: (t) => (out += t) });
    process.env = saved;
    console.error(`F13 approve exit ${code}: ${out.split("\n").filter((l) => /grant|error|E_/i.test(l)).slice(0, 3).join(" | ")}`);
    assert.equal(code, 0, out);
    const c = await connectStdio(ws.configPath, { env: ENV });
    try {
      const r = await call(c, "fx_echo", { text: "ran-without-confirmation" });
      console.error(`F13 fx_echo (raised to destructive, client without elicitation): ${textOf(r).slice(0, 140)}`);
      assert.ok(r.isError, "the operator's per-tool raise was ignored");
      assert.match(textOf(r), /E_NOT_CONFIRMED/);
    } finally {
      await c.close();
    }
  });
});

describe("review: start-up and teardown of hostile servers", () => {
  for (const [label, argv, lifecycle] of [["never answers initialize", "noinit", "session"], ["ignores SIGTERM (call lifecycle)", "ignoreterm", "call"]] as const) {
    test(`F15 a server that ${label} leaves no container behind`, async (t) => {
    if (!(await requireHostile(t))) return;
      const ws = fixtureWorkspace({}, { ...MANIFEST, lifecycle, command: ["python3", "-u", "/app/server.py", argv] });
      if (argv === "noinit") {
        // approval itself must fail (bounded), not hang
        const t0 = Date.now();
        await approveFixture(ws.configPath).then(() => assert.fail("approved a server that never initialized"), (e: Error) => console.error(`F15 approve of noinit failed after ${Date.now() - t0} ms: ${e.message.slice(0, 120)}`));
      } else {
        await approveFixture(ws.configPath);
        const c = await connectStdio(ws.configPath, { env: ENV });
        for (let i = 0; i < 3; i++) await call(c, "fx_echo", { text: "x" });
        await new Promise((r) => setTimeout(r, 3000));
        console.error(`F15 containers after 3 call-lifecycle calls (SIGTERM ignored): ${await fixtureContainers(ws.owner)}`);
        await c.close();
      }
      await new Promise((r) => setTimeout(r, 3000));
      const left = await fixtureContainers(ws.owner);
      console.error(`F15 ${label}: containers left: ${left}`);
      assert.equal(left, 0);
    });
  }
});

describe("review: name squatting and per-tenant containers", () => {
  test("F7 a hosted server (toolPrefix \"\") listing an UNAPPROVED tool named like a native tool withholds the native tool", async () => {
    const owner = `tests-review-${Date.now()}@example.invalid`;
    const ws = makeWorkspace({
      examples: ["word_stats"],
      tools: { fixture: { manifest: fixtureManifest({ owner, ...MANIFEST, toolPrefix: "" }), files: {} } },
      config: { secrets: { FIXTURE_SECRET: { env: "WARDEN_FIXTURE_SECRET" } } },
    });
    await approveFixture(ws.configPath);
    let out = "";
    assert.equal(await runCli(["approve", "word_stats", "--yes", "--config", ws.configPath], { stdout: (t) => (out += t), stderr: (t) => (out += t) }), 0, out);
    const c = await connectStdio(ws.configPath, { env: ENV });
    try {
      const before = (await c.client.listTools()).tools.map((t: any) => t.name);
      assert.ok(before.includes("word_stats"));
      await call(c, "squat", { names: ["word_stats"] });
      await new Promise((r) => setTimeout(r, 1500));
      const afterList = (await c.client.listTools()).tools.map((t: any) => t.name);
      const r = await call(c, "word_stats", { text: "a b" });
      console.error(`F7 native word_stats listed after squat: ${afterList.includes("word_stats")}; call: ${textOf(r).slice(0, 160)}`);
      assert.ok(afterList.includes("word_stats") && !r.isError, "a hosted server took a native tool away");
    } finally {
      await c.close();
    }
  });

  test("F8 one token cannot start more than 8 hosted servers (one per session): the next session gets E_BUSY", async (t) => {
    if (!(await requireHostile(t))) return;
    const tok = { token: "tenant-c-token-0123456789" };
    const ws = fixtureWorkspace({ http: { listen: "127.0.0.1:0", tokens: [{ name: "c", sha256: createHash("sha256").update(tok.token).digest("hex") }] } }, MANIFEST);
    await approveFixture(ws.configPath);
    const srv = await startHttpServer(ws.configPath, ENV);
    const conns = [];
    try {
      for (let i = 0; i < 8; i++) {
        const k = await connectHttp(srv.url, tok);
        conns.push(k);
        assert.equal(textOf(await call(k, "fx_echo", { text: "x" })), "x");
      }
      assert.equal(await fixtureContainers(ws.owner), 8);
      const ninth = await connectHttp(srv.url, tok);
      conns.push(ninth);
      const r = await call(ninth, "fx_echo", { text: "x" });
      assert.ok(r.isError && /E_BUSY/.test(textOf(r)), textOf(r));
      assert.equal(await fixtureContainers(ws.owner), 8, "no ninth container");
    } finally {
      for (const k of conns) await k.close();
      await srv.stop();
    }
  });
});
