import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { pino } from "pino";
import { openRuntime } from "../../src/runtime/open.js";
import { writeLiveStatus } from "../../src/runtime/live-status.js";
import { CLI_MAIN, connectHttp, connectStdio, startHttpServer } from "../helpers/server.js";
import { approveAll, isolateManifest, makeWorkspace } from "../helpers/workspace.js";
import { errorCodeOf } from "../helpers/result.js";
import { editConfig, tokenFor, waitFor } from "../mcp/tenant-kit.js";
import { TEST_TOOLS } from "../mcp/tools.js";

function cli(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--no-node-snapshot", CLI_MAIN(), ...args], { env: { ...process.env, WARDEN_LOG_LEVEL: "warn", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += String(d)));
    child.stderr.on("data", (d) => (stderr += String(d)));
    child.on("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

/** A pino logger whose lines the test can read. */
function memoryLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink), lines };
}

describe("live reload keeps the server in step with the files", () => {
  test("a reload that fails on a transient error (EMFILE) is retried until the kill switch is in force, and says so meanwhile (#18.4)", async () => {
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
    await approveAll(ws);
    const { logger, lines } = memoryLogger();
    const runtime = await openRuntime(ws.configPath, logger);
    const live = runtime.watch();
    const held: number[] = [];
    try {
      assert.deepEqual(runtime.broker.listTools().map((t) => t.name), ["adder"]);
      // the operator's edit is ready beside the config; renaming it in needs no descriptor
      const next = join(ws.dir, "next.json");
      await waitFor("the watcher settled", () => live.status().configSha256 !== null);
      const raw = JSON.parse(readFileSync(ws.configPath, "utf8"));
      raw.disabled = ["adder"];
      writeFileSync(next, JSON.stringify(raw));
      // every descriptor of this process is taken, as during the flood of #18.3
      try {
        for (;;) held.push(openSync("/dev/null", "r"));
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, "EMFILE");
      }
      renameSync(next, ws.configPath);
      await waitFor("the reload to fail", () => lines.some((l) => /reload refused/.test(l) && /EMFILE/.test(l)), 5000);
      assert.equal(live.status().inSync, false, "the status says the live state differs from the file");
      assert.deepEqual(runtime.broker.listTools().map((t) => t.name), ["adder"], "still the old state while descriptors are exhausted");
      await new Promise((r) => setTimeout(r, 600));
      for (const fd of held.splice(0)) closeSync(fd);
      // nothing touches the files again: only a retry can apply the edit
      await waitFor("the kill switch applied by a retry", () => runtime.broker.listTools().length === 0, 15_000);
      await waitFor("in sync", () => live.status().inSync);
      assert.deepEqual(live.status().disabled, ["adder"]);
      assert.ok(lines.some((l) => /live state matches the config file again/.test(l)));
    } finally {
      for (const fd of held) closeSync(fd);
      await runtime.close();
    }
  });

  test("a broken tool folder does not block the kill switch or a token's revocation; the tool is withheld with an alert and `warden disable` reports what the server applied (#19.2)", async () => {
    const keep = tokenFor("keep");
    const revoked = tokenFor("revoked");
    const ws = makeWorkspace({
      tools: { adder: TEST_TOOLS.adder!, writer: TEST_TOOLS.writer!, eraser: TEST_TOOLS.eraser!, chatty: TEST_TOOLS.chatty! },
      config: { http: { listen: "127.0.0.1:0", tokens: [keep.entry, revoked.entry] }, confirm: [] },
    });
    await approveAll(ws);
    const srv = await startHttpServer(ws.configPath);
    const c = await connectHttp(srv.url, { token: keep.token });
    try {
      assert.deepEqual((await c.client.listTools()).tools.map((t) => t.name).sort(), ["adder", "chatty", "eraser", "writer"]);
      // the author of writer breaks their own folder: a symlink out of it; chatty's author adds a FIFO
      mkdirSync(join(ws.dir, "outside"));
      symlinkSync(join(ws.dir, "outside"), join(ws.toolDir("writer"), "escape"));
      assert.equal(spawnSync("mkfifo", [join(ws.toolDir("chatty"), "pipe")]).status, 0);
      // the operator revokes a token and pulls the kill switch on another tool
      await editConfig(ws.configPath, (raw) => (raw.http.tokens = [keep.entry]));
      const d = await cli(["disable", "eraser", "--config", ws.configPath]);
      assert.equal(d.status, 0, d.stderr);
      assert.match(d.stdout, /the running server \(pid \d+\) applied it/);
      const call = (name: string) => c.client.request({ method: "tools/call", params: { name, arguments: { a: 1, b: 2 } } }, CallToolResultSchema);
      assert.equal(errorCodeOf(await call("eraser")), "E_DISABLED");
      await assert.rejects(call("writer"), /unknown tool "writer"/, "the broken tool is withheld");
      await assert.rejects(call("chatty"), /unknown tool "chatty"/, "a FIFO neither blocks the reload nor is served");
      assert.deepEqual((await call("adder")).structuredContent, { sum: 3 }, "the other tools keep serving");
      await assert.rejects(connectHttp(srv.url, { token: revoked.token }), /a valid bearer token is required/);
      await waitFor("alert", () => /tool_withheld/.test(srv.stderr()) || undefined);
      // the folder is repaired: the tool comes back by itself
      unlinkSync(join(ws.toolDir("writer"), "escape"));
      await waitFor("writer back", async () => (await c.client.listTools()).tools.some((t) => t.name === "writer"));
    } finally {
      await c.close();
      await srv.stop();
    }
  });

  test("a lock file that cannot be read does not block the kill switch or the stdio scope: they apply, the rest waits (#19.2)", async () => {
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder!, writer: TEST_TOOLS.writer! } });
    await approveAll(ws);
    const lockFile = join(ws.dir, "warden.lock.json");
    const goodLock = readFileSync(lockFile, "utf8");
    const { logger } = memoryLogger();
    const runtime = await openRuntime(ws.configPath, logger);
    const live = runtime.watch();
    try {
      writeFileSync(lockFile, "{ half a lock");
      await editConfig(ws.configPath, (raw) => {
        raw.disabled = ["adder"];
        raw.stdio = { allow: ["read"] };
      });
      await waitFor("kill switch applied", () => !runtime.broker.listTools().some((t) => t.name === "adder"));
      assert.equal(runtime.broker.currentConfig.stdio.allow?.join(), "read");
      assert.equal(live.status().inSync, false);
      assert.match(live.status().problem ?? "", /the kill switch, tokens and stdio\.allow were applied/);
      writeFileSync(lockFile, goodLock);
      await waitFor("in sync again", () => live.status().inSync || undefined);
      assert.deepEqual(runtime.broker.listTools().map((t) => t.name), ["writer"]);
    } finally {
      await runtime.close();
    }
  });

  test("a broken tool folder does not block a grant narrowing for the other tools (#19.2)", async () => {
    const ws = makeWorkspace({
      tools: {
        fetcher: { manifest: isolateManifest("fetcher", { capabilities: { network: { allow: ["api.example.com", "cdn.example.com"] } } }), files: { "index.js": "export default async function run() { return {}; }\n" } },
        adder: TEST_TOOLS.adder!,
      },
      config: { grants: { fetcher: { network: ["api.example.com", "cdn.example.com"] } } },
    });
    await approveAll(ws);
    const { logger } = memoryLogger();
    const runtime = await openRuntime(ws.configPath, logger);
    const live = runtime.watch();
    const hosts = () => runtime.broker.getTool("fetcher")?.capabilities.network.map((n) => n.pattern);
    try {
      assert.deepEqual(hosts(), ["api.example.com", "cdn.example.com"]);
      writeFileSync(join(ws.toolDir("adder"), "manifest.json"), "{ not json");
      await editConfig(ws.configPath, (raw) => (raw.grants.fetcher.network = ["api.example.com"]));
      await waitFor("grant narrowed", () => hosts()?.length === 1 || undefined);
      assert.deepEqual(hosts(), ["api.example.com"]);
      assert.equal(runtime.broker.getTool("adder"), undefined, "the broken tool is withheld");
      assert.deepEqual(live.status().withheld, [ws.toolDir("adder")]);
    } finally {
      await runtime.close();
    }
  });

  test("`warden disable` says so when a running server did not apply the edit", async () => {
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
    // a server (this process stands in for it) that is stuck on an old state
    await writeLiveStatus(ws.configPath, { pid: process.pid, configSha256: null, disabled: [], inSync: false, problem: "config not applied: EMFILE", withheld: [], at: new Date().toISOString() });
    const d = await cli(["disable", "adder", "--config", ws.configPath], { WARDEN_APPLY_TIMEOUT_MS: "300" });
    assert.equal(d.status, 1);
    assert.match(d.stderr, /the running server \(pid \d+\) has NOT applied it: config not applied: EMFILE; adder still answers there/);
    // a status nobody refreshed (a server killed with SIGKILL, a pid from a container's namespace) is not a server
    await writeLiveStatus(ws.configPath, { pid: process.pid, configSha256: null, disabled: [], inSync: true, problem: null, withheld: [], at: new Date(Date.now() - 60_000).toISOString() });
    const stale = await cli(["enable", "adder", "--config", ws.configPath], { WARDEN_APPLY_TIMEOUT_MS: "300" });
    assert.equal(stale.status, 0, stale.stderr);
    assert.match(stale.stdout, /no running warden server reported on this config/);
    // no server at all: the edit applies at the next start
    const none = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
    const n = await cli(["disable", "adder", "--config", none.configPath]);
    assert.equal(n.status, 0);
    assert.match(n.stdout, /no running warden server reported on this config/);
  });

  test("stdio.allow is applied live, like a token's scope (#19.12)", async () => {
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder!, writer: TEST_TOOLS.writer! }, config: { stdio: { allow: ["read", "write"] } } });
    await approveAll(ws);
    const c = await connectStdio(ws.configPath);
    try {
      assert.deepEqual((await c.client.listTools()).tools.map((t) => t.name).sort(), ["adder", "writer"]);
      await editConfig(ws.configPath, (raw) => (raw.stdio.allow = ["read"]));
      await waitFor("narrowed", async () => !(await c.client.listTools()).tools.some((t) => t.name === "writer"));
      await assert.rejects(c.client.request({ method: "tools/call", params: { name: "writer", arguments: {} } }, CallToolResultSchema), /unknown tool "writer"/);
    } finally {
      await c.close();
    }
  });
});
