/**
 * Isolate call latency with signed audit checkpoints every 100 records vs
 * none, same run, same tool (SPEC §10: signing is off the call path, so the
 * p50 difference must be within noise). Rounds alternate the order so neither
 * side always runs on a warmer machine.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../src/cli/main.js";
import { benchMcpServer, type McpBenchResult } from "./mcp-bench.js";
import { round } from "./stats.js";

export interface CheckpointBenchResult {
  rows: Array<{ setup: string; p50Ms: number; p99Ms: number; callsPerSecC16: number }>;
  p50DiffMs: number;
  checkpointsWritten: number;
}

const silent = { stdout: () => {}, stderr: () => {} };

async function workspace(repo: string, checkpoint: boolean): Promise<{ config: string; checkpointFile: string }> {
  const work = mkdtempSync(join(tmpdir(), "warden-bench-cp-"));
  mkdirSync(join(work, "tools"));
  mkdirSync(join(work, "anchor"));
  cpSync(join(repo, "examples", "tools", "word_stats"), join(work, "tools", "word_stats"), { recursive: true });
  const checkpointFile = join(work, "anchor", "checkpoints.jsonl");
  const audit: Record<string, unknown> = { file: "./state/audit.jsonl" };
  if (checkpoint) {
    await runCli(["audit", "keygen", "--out", join(work, "signing.key")], silent);
    audit.checkpoint = { every: 100, intervalSec: 60, key: "./signing.key", sink: { file: "./anchor/checkpoints.jsonl" } };
  }
  const config = join(work, "warden.config.json");
  writeFileSync(config, JSON.stringify({ tools: ["./tools/*"], audit, concurrency: { maxInFlight: 16, maxQueue: 256 } }));
  await runCli(["approve", "word_stats", "--yes", "--config", config], silent);
  return { config, checkpointFile };
}

export async function benchCheckpoints(repo: string, buildRoot: string, quick: boolean): Promise<CheckpointBenchResult> {
  const serialCalls = quick ? 500 : 2000;
  const loadSeconds = quick ? 1 : 2;
  const input = { text: "the quick brown fox jumps over the lazy dog the end" };
  const none = await workspace(repo, false);
  const every100 = await workspace(repo, true);
  const run = (name: string, config: string) =>
    benchMcpServer(name, process.execPath, ["--no-node-snapshot", join(buildRoot, "src", "cli", "main.js"), "serve", "--config", config], { WARDEN_LOG_LEVEL: "warn" }, "word_stats", input, { serialCalls, loadSeconds });
  const results: { none: McpBenchResult[]; every100: McpBenchResult[] } = { none: [], every100: [] };
  const rounds = quick ? 1 : 2;
  for (let i = 0; i < rounds; i++) {
    const order: Array<"none" | "every100"> = i % 2 === 0 ? ["none", "every100"] : ["every100", "none"];
    for (const side of order) results[side].push(await run(side === "none" ? "no checkpoints" : "checkpoints every 100", side === "none" ? none.config : every100.config));
  }
  const summarize = (setup: string, rows: McpBenchResult[]) => ({
    setup,
    p50Ms: round(rows.reduce((s, r) => s + r.p50Ms, 0) / rows.length),
    p99Ms: round(rows.reduce((s, r) => s + r.p99Ms, 0) / rows.length),
    callsPerSecC16: Math.round(rows.reduce((s, r) => s + r.callsPerSecC16, 0) / rows.length),
  });
  const rows = [summarize("isolate call, no checkpoints", results.none), summarize("isolate call, checkpoints every 100 records", results.every100)];
  let checkpointsWritten = 0;
  try {
    checkpointsWritten = readFileSync(every100.checkpointFile, "utf8").split("\n").filter(Boolean).length;
  } catch {
    checkpointsWritten = 0;
  }
  // A benchmark whose checkpointer never signed measures nothing.
  if (checkpointsWritten === 0) throw new Error("checkpoint bench: no checkpoint was written");
  return { rows, p50DiffMs: round(rows[1]!.p50Ms - rows[0]!.p50Ms), checkpointsWritten };
}

// `node dist/bench/checkpoint-bench.js` runs only this part.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { dirname } = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const buildRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
  const result = await benchCheckpoints(join(buildRoot, ".."), buildRoot, process.env.BENCH_QUICK === "1");
  console.table(result.rows);
  console.log(`p50 difference: ${result.p50DiffMs} ms; checkpoints written: ${result.checkpointsWritten}`);
}
