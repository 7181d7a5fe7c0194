/**
 * `npm run bench`: every number in one run on this machine, baselines included.
 * Prints a table and writes bench/results.json.
 */
import { mkdtempSync, writeFileSync, cpSync, mkdirSync, readFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchMcpServer, type McpBenchResult } from "./mcp-bench.js";
import { measureRawFreshContexts } from "../sandboxes/isolate/raw-rate.js";
import { round } from "./stats.js";
import { runCli } from "../src/cli/main.js";
import { benchCapabilities } from "./capabilities-bench.js";
import { benchContainers } from "./container-bench.js";
import { benchCheckpoints } from "./checkpoint-bench.js";
import { benchHostedServer } from "./hosted-bench.js";
import { benchBreakdown } from "./breakdown-bench.js";

const buildRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const repo = join(buildRoot, "..");
const quick = process.env.BENCH_QUICK === "1";
const serialCalls = quick ? 500 : 3000;
const loadSeconds = quick ? 2 : 5;
/**
 * BENCH_ONLY=mcp,breakdown runs only those parts (mcp: baseline + warden + raw contexts, breakdown, capabilities,
 * containers, checkpoints, hosted): the isolate parts can be measured without touching the shared Docker engine.
 * A partial run never writes bench/results.json, so the "previous" column stays the last full run.
 */
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",").map((s) => s.trim())) : null;
const runs = (part: string): boolean => only === null || only.has(part);

const work = mkdtempSync(join(tmpdir(), "warden-bench-"));
mkdirSync(join(work, "tools"));
cpSync(join(repo, "examples", "tools", "word_stats"), join(work, "tools", "word_stats"), { recursive: true });
const config = join(work, "warden.config.json");
writeFileSync(config, JSON.stringify({ tools: ["./tools/*"], audit: { file: "./audit.jsonl" }, concurrency: { maxInFlight: 16, maxQueue: 256 } }));
await runCli(["approve", "word_stats", "--yes", "--config", config], { stdout: () => {}, stderr: () => {} });
const input = { text: "the quick brown fox jumps over the lazy dog the end" };

const results: Record<string, unknown> = { machine: { cpus: cpus().length, memGiB: round(totalmem() / 2 ** 30, 1), node: process.version }, date: new Date().toISOString() };

const known = ["mcp", "breakdown", "capabilities", "containers", "checkpoints", "hosted"];
if (only && ![...only].every((part) => known.includes(part))) throw new Error(`BENCH_ONLY=${process.env.BENCH_ONLY}: the parts are ${known.join(", ")}`);

if (runs("mcp")) {
  const baseline = await benchMcpServer("baseline (plain SDK server, in-process function)", process.execPath, [join(buildRoot, "bench", "baseline-server.js"), join(work, "tools", "word_stats")], {}, "word_stats", input, { serialCalls, loadSeconds });
  // Started as clients start it: bin/warden.js as an executable (it execs Node 24 with the launcher's V8 flags).
  const warden = await benchMcpServer("warden (isolate tool, audited)", join(repo, "bin", "warden.js"), ["serve", "--config", config], { WARDEN_LOG_LEVEL: "warn" }, "word_stats", input, { serialCalls, loadSeconds });
  const raw = await measureRawFreshContexts(loadSeconds * 1000);
  const mcpRows: McpBenchResult[] = [baseline, warden];
  results.mcp = mcpRows;
  results.raw = { freshContextsPerSecond: Math.round(raw.perSecond) };
  const targets = {
    addedP50Ms: round(warden.p50Ms - baseline.p50Ms),
    addedP50TargetMs: 0.4,
    c16VsRaw: round(warden.callsPerSecC16 / raw.perSecond, 3),
    c16VsRawTarget: 0.6,
    rssIdleMb: warden.rssIdleMb,
    rssIdleTargetMb: 150,
    rssLoadMb: warden.rssLoadMb,
    rssLoadTargetMb: 300,
    firstListMs: warden.startupToFirstListMs,
    firstListTargetMs: 400,
  };
  results.targets = targets;
  // Issue #14's table: baseline, the previous run's values (bench/results.json before this run) and this run's.
  const previous = readPrevious();
  const issueTable = [
    { row: "added p50 latency, c=1 (ms)", baseline: baseline.p50Ms, previous: previous?.targets?.addedP50Ms ?? null, now: targets.addedP50Ms, target: "≤ 0.4" },
    { row: "calls/s c=16 vs raw fresh contexts/s", baseline: null, previous: previous?.targets?.c16VsRaw ?? null, now: targets.c16VsRaw, target: "≥ 0.6" },
    { row: "RSS process tree idle (MiB)", baseline: baseline.rssIdleMb, previous: previous?.mcp?.[1]?.rssIdleMb ?? null, now: warden.rssIdleMb, target: "≤ 150" },
    { row: "RSS under load (MiB)", baseline: baseline.rssLoadMb, previous: previous?.mcp?.[1]?.rssLoadMb ?? null, now: warden.rssLoadMb, target: "≤ 300" },
    { row: "spawn → first tools/list (ms)", baseline: baseline.startupToFirstListMs, previous: previous?.mcp?.[1]?.startupToFirstListMs ?? null, now: warden.startupToFirstListMs, target: "≤ 400" },
  ];
  console.log("\nMCP over stdio (word_stats)");
  console.table(mcpRows.map((r) => ({ server: r.name, "spawn→list ms": r.startupToFirstListMs, "p50 ms (c=1)": r.p50Ms, "p99 ms (c=1)": r.p99Ms, "calls/s (c=16)": r.callsPerSecC16, "RSS idle MiB": r.rssIdleMb, "RSS load MiB": r.rssLoadMb, errors: r.errors })));
  console.log(`raw fresh contexts/s (no MCP, 2 threads): ${Math.round(raw.perSecond)}`);
  console.log(`warden RSS per process, MiB (anonymous), server first, then the tree's PSS: idle ${warden.processesIdle}; after the load ${warden.processesAfterLoad}`);
  console.log(`\nIssue #14 targets (load average ${loadavg().map((l) => round(l, 2)).join(" ")})`);
  console.table(issueTable);
}
if (runs("breakdown")) {
  const breakdown = await benchBreakdown(buildRoot, config, "word_stats", input, { serialCalls, loadSeconds });
  results.breakdown = breakdown;
  console.log(`\nWhere a warden call's time goes (ms; WARDEN_TIMINGS=1 run; load average ${breakdown.loadAverage.join(" ")})`);
  console.table(breakdown.rows);
}
if (runs("capabilities")) {
  results.capabilities = await benchCapabilities(quick);
  console.log("\nCapabilities");
  console.table(results.capabilities);
}
if (runs("containers")) {
  results.containers = await benchContainers(repo, buildRoot, quick);
  console.log("\nContainers (py_word_freq)");
  console.table(results.containers);
}
if (runs("checkpoints")) {
  const checkpoints = await benchCheckpoints(repo, buildRoot, quick);
  results.checkpoints = checkpoints;
  console.log("\nAudit checkpoints (word_stats, isolate; same run)");
  console.table(checkpoints.rows);
  console.log(`p50 with checkpoints every 100 − without: ${checkpoints.p50DiffMs} ms (${checkpoints.checkpointsWritten} checkpoints written)`);
}
if (runs("hosted")) {
  results.hostedServer = await benchHostedServer(repo, buildRoot, quick);
  console.log("\nHosted MCP server (community filesystem server, read_text_file; direct = same image over docker run -i, same client)");
  console.table([results.hostedServer]);
}
if (only === null) {
  writeFileSync(join(repo, "bench", "results.json"), JSON.stringify(results, null, 2) + "\n");
  console.log(`\nwrote bench/results.json`);
} else console.log(`\nBENCH_ONLY=${[...only].join(",")}: bench/results.json left as it was (a partial run)`);

function readPrevious(): { targets?: { addedP50Ms?: number; c16VsRaw?: number }; mcp?: Array<{ rssIdleMb?: number; rssLoadMb?: number; startupToFirstListMs?: number }> } | null {
  try {
    return JSON.parse(readFileSync(join(repo, "bench", "results.json"), "utf8"));
  } catch {
    return null;
  }
}
