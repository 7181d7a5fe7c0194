/**
 * A hosted community server (SPEC §15): @modelcontextprotocol/server-filesystem
 * through warden (session lifecycle, container already up) vs the same image
 * spawned directly by the same SDK client over `docker run -i` (same hardening
 * flags, no warden). Also the first call of a session, container start included.
 */
import { chmodSync, cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { runCli } from "../src/cli/main.js";
import { percentile, round } from "./stats.js";

export interface HostedBenchResult {
  directP50Ms: number;
  directP99Ms: number;
  wardenP50Ms: number;
  wardenP99Ms: number;
  addedP50Ms: number;
  addedP50TargetMs: number;
  firstCallOfSessionMs: number;
  calls: number;
}

const IMAGE = "warden-tools/files:1";
const SERVER = ["node", "/app/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js", "/mnt/workspace"];

export async function benchHostedServer(repo: string, buildRoot: string, quick: boolean): Promise<HostedBenchResult | { skipped: string }> {
  const work = mkdtempSync(join(tmpdir(), "warden-bench-hosted-"));
  mkdirSync(join(work, "tools"));
  cpSync(join(repo, "examples", "tools", "files"), join(work, "tools", "files"), { recursive: true });
  const ws = join(work, "ws");
  mkdirSync(ws);
  chmodSync(ws, 0o777);
  writeFileSync(join(ws, "note.txt"), "a small file the server reads on every call\n");
  const config = join(work, "warden.config.json");
  writeFileSync(config, JSON.stringify({ tools: ["./tools/*"], volumes: { workspace: { path: ws } }, audit: { file: "./audit.jsonl" }, confirm: [] }));
  let out = "";
  if ((await runCli(["approve", "files", "--yes", "--config", config], { stdout: (t) => (out += t), stderr: (t) => (out += t) })) !== 0)
    return { skipped: `approve failed (Docker and \`warden images build\` needed): ${out.slice(-200)}` };
  const calls = quick ? 100 : 400;
  const args = { path: "/mnt/workspace/note.txt" };

  const direct = await measure(
    new StdioClientTransport({
      command: "docker",
      args: ["run", "-i", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp:rw,noexec,nosuid,size=16m", "--user", "65534:65534", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "-v", `${ws}:/mnt/workspace`, IMAGE, ...SERVER],
      stderr: "ignore",
    }),
    "read_text_file",
    args,
    calls,
  );
  const viaWarden = await measure(
    new StdioClientTransport({ command: process.execPath, args: ["--no-node-snapshot", join(buildRoot, "src", "cli", "main.js"), "serve", "--config", config], env: { ...(process.env as Record<string, string>), WARDEN_LOG_LEVEL: "warn" }, stderr: "ignore" }),
    "files_read_text_file",
    args,
    calls,
  );
  return {
    directP50Ms: direct.p50,
    directP99Ms: direct.p99,
    wardenP50Ms: viaWarden.p50,
    wardenP99Ms: viaWarden.p99,
    addedP50Ms: round(viaWarden.p50 - direct.p50),
    addedP50TargetMs: 1,
    firstCallOfSessionMs: viaWarden.first,
    calls,
  };
}

async function measure(transport: StdioClientTransport, tool: string, args: Record<string, unknown>, calls: number): Promise<{ first: number; p50: number; p99: number }> {
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(transport);
  const once = async () => {
    const r = await client.request({ method: "tools/call", params: { name: tool, arguments: args } }, CallToolResultSchema);
    if (r.isError) throw new Error(`${tool}: ${JSON.stringify(r).slice(0, 300)}`);
  };
  const t0 = performance.now();
  await once(); // warden: starts the session's container
  const first = round(performance.now() - t0, 1);
  for (let i = 0; i < 30; i++) await once();
  const lat: number[] = [];
  for (let i = 0; i < calls; i++) {
    const s = performance.now();
    await once();
    lat.push(performance.now() - s);
  }
  await client.close();
  lat.sort((a, b) => a - b);
  return { first, p50: round(percentile(lat, 50)), p99: round(percentile(lat, 99)) };
}
