import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { runCli } from "../src/cli/main.js";
import { percentile, round } from "./stats.js";

const IMAGE = "warden-tools/py_word_freq:1";
const INPUT = { text: "the quick brown fox jumps over the lazy dog the end" };

function dockerRunOnce(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = performance.now();
    const child = spawn("docker", ["run", "--rm", "-i", "--network", "none", "--user", "65534:65534", IMAGE, "python3", "/app/main.py"], { stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.on("exit", (code) => (code === 0 && out.includes("output") ? resolve(performance.now() - s) : reject(new Error(`docker run failed: ${code} ${out}`))));
    child.stdin.end(JSON.stringify({ tool: "py_word_freq", callId: "bench", input: INPUT }) + "\n");
  });
}

async function wardenClient(repo: string, buildRoot: string, poolSize: number) {
  const work = mkdtempSync(join(tmpdir(), "warden-bench-ctr-"));
  mkdirSync(join(work, "tools"));
  cpSync(join(repo, "examples", "tools", "py_word_freq"), join(work, "tools", "py_word_freq"), { recursive: true });
  const config = join(work, "warden.config.json");
  writeFileSync(config, JSON.stringify({ tools: ["./tools/*"], audit: { file: "./audit.jsonl" }, container: { poolSize } }));
  await runCli(["approve", "py_word_freq", "--yes", "--config", config], { stdout: () => {}, stderr: () => {} });
  const transport = new StdioClientTransport({ command: process.execPath, args: ["--no-node-snapshot", join(buildRoot, "src", "cli", "main.js"), "serve", "--config", config], env: { ...(process.env as Record<string, string>), WARDEN_LOG_LEVEL: "warn" }, stderr: "ignore" });
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(transport);
  const call = async () => {
    const s = performance.now();
    const r = await client.request({ method: "tools/call", params: { name: "py_word_freq", arguments: INPUT } }, CallToolResultSchema);
    if (r.isError) throw new Error(JSON.stringify(r.structuredContent));
    return performance.now() - s;
  };
  return { client, call };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** docker run --rm vs warden container calls (warm pool, empty pool), in the same run. */
export async function benchContainers(repo: string, buildRoot: string, quick: boolean) {
  if (spawnSync("docker", ["image", "inspect", IMAGE], { stdio: "ignore" }).status !== 0) return { skipped: `no Docker engine or image ${IMAGE} (run: bash images/build.sh)` };
  const n = quick ? 5 : 12;
  const base: number[] = [];
  for (let i = 0; i < n; i++) base.push(await dockerRunOnce());

  const warm = await wardenClient(repo, buildRoot, 1);
  await sleep(3000);
  await warm.call();
  const warmLat: number[] = [];
  for (let i = 0; i < n; i++) {
    await sleep(1500); // the used container is replaced in the background
    warmLat.push(await warm.call());
  }
  let done = 0;
  const seconds = quick ? 5 : 10;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 4 }, async () => { while (performance.now() < end) { await warm.call(); done++; } }));
  const sustained = done / ((performance.now() - t0) / 1000);
  await warm.client.close();

  const cold = await wardenClient(repo, buildRoot, 0);
  const coldLat: number[] = [];
  for (let i = 0; i < n; i++) coldLat.push(await cold.call());
  await cold.client.close();

  const p50 = (a: number[]) => round(percentile([...a].sort((x, y) => x - y), 50), 1);
  return {
    dockerRunRmP50Ms: p50(base),
    wardenWarmPoolP50Ms: p50(warmLat),
    wardenEmptyPoolP50Ms: p50(coldLat),
    warmSpeedupVsDockerRun: round(p50(base) / p50(warmLat), 1),
    speedupTarget: "≥ 5×",
    sustainedCallsPerSecC4: round(sustained, 1),
  };
}
