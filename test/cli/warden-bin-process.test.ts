/**
 * Issue #14: the launcher must not stay alive as a second Node process (≈40–50 MB per server, and a relay
 * between the client and warden for signals and exit codes). The process the client spawned IS the server.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { repoRoot } from "../helpers/paths.js";
import { approveAll, makeWorkspace } from "../helpers/workspace.js";
import { TEST_TOOLS } from "../mcp/tools.js";

const BIN = () => join(repoRoot(), "bin", "warden.js");

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** Command lines of every descendant of pid (Linux /proc). */
function descendants(pid: number): string[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: string[] = [];
  const stack = [...(children.get(pid) ?? [])];
  while (stack.length > 0) {
    const p = stack.pop()!;
    out.push(cmdline(p));
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

const WAYS: Array<{ name: string; command: () => string; args: () => string[] }> = [
  { name: "node --no-node-snapshot bin/warden.js", command: () => process.execPath, args: () => ["--no-node-snapshot", BIN()] },
  { name: "node bin/warden.js (Node 24 without the flag)", command: () => process.execPath, args: () => [BIN()] },
  { name: "bin/warden.js as an executable", command: () => BIN(), args: () => [] },
];

for (const way of WAYS) {
  test(`${way.name}: the spawned process is the server itself, no launcher parent stays (#14)`, { skip: process.platform !== "linux" && "reads /proc" }, async () => {
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
    await approveAll(ws);
    const transport = new StdioClientTransport({
      command: way.command(),
      args: [...way.args(), "serve", "--config", ws.configPath],
      env: { ...(process.env as Record<string, string>), WARDEN_LOG_LEVEL: "warn" },
      stderr: "pipe",
    });
    const client = new Client({ name: "bin-process-test", version: "1" });
    await client.connect(transport);
    try {
      const r = await client.callTool({ name: "adder", arguments: { a: 1, b: 2 } });
      assert.deepEqual(r.structuredContent, { sum: 3 });
      const pid = transport.pid!;
      // The server runs in the spawned process (a replaced shell or the launcher itself)...
      assert.match(cmdline(pid), /node/, `pid ${pid} is not a Node process: ${cmdline(pid)}`);
      // ...and its only Node descendants are the isolate workers, never a second copy of warden.
      const others = descendants(pid).filter((c) => !c.includes("sandboxes/isolate/worker.js"));
      assert.deepEqual(others, [], `a launcher stayed as a parent of: ${others.join(" | ")}`);
    } finally {
      await client.close();
    }
  });
}

test("bin/warden.js as an executable: SIGTERM stops the server with exit code 0, as before (#14)", async () => {
  const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
  await approveAll(ws);
  const child = spawn(BIN(), ["serve", "--config", ws.configPath], { stdio: ["pipe", "pipe", "ignore"], env: { ...process.env, WARDEN_LOG_LEVEL: "warn" } });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once("exit", (code, signal) => resolve([code, signal])));
  // Answered initialize = the server is up and its SIGTERM handler installed.
  const answered = new Promise<void>((resolve) => child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes('"id":1') && resolve()));
  child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } })}\n`);
  await answered;
  child.kill("SIGTERM");
  assert.deepEqual(await exited, [0, null]);
});

// #14: V8 grows a busy process's young generation to 2 × 64 MB and keeps it (measured: 128 MB of a 229 MB
// broker), and its old space to ~4× the live heap; the launcher and the worker pool bound both.
test("bin/warden.js as an executable: the server runs with bounded heap growth and its isolate workers with 1 MB semi-spaces (#14)", { skip: process.platform !== "linux" && "reads /proc" }, async () => {
  const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
  await approveAll(ws);
  const transport = new StdioClientTransport({ command: BIN(), args: ["serve", "--config", ws.configPath], env: { ...(process.env as Record<string, string>), WARDEN_LOG_LEVEL: "warn" }, stderr: "pipe" });
  const client = new Client({ name: "bin-flags-test", version: "1" });
  await client.connect(transport);
  try {
    assert.deepEqual((await client.callTool({ name: "adder", arguments: { a: 1, b: 2 } })).structuredContent, { sum: 3 });
    assert.match(cmdline(transport.pid!), /--max-semi-space-size=8 --heap-growing-percent=50 /);
    const workers = descendants(transport.pid!).filter((c) => c.includes("sandboxes/isolate/worker.js"));
    assert.ok(workers.length > 0, "the isolate call ran in a worker");
    for (const worker of workers) assert.match(worker, /--max-semi-space-size=1 /);
  } finally {
    await client.close();
  }
});
