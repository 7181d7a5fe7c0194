/**
 * Where a call's time goes (issue #14): runs warden with WARDEN_TIMINGS=1 (marks in the broker, the isolate
 * executor and the worker; sandboxes/isolate/timings.ts), drives it with a real SDK client at concurrency 1
 * and 16, and prints the per-phase p50 and mean in ms. The remainder is what the client saw minus the
 * broker's own total: MCP parse/validation/write on both sides and the stdio pipes.
 */
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { percentile, round } from "./stats.js";

type Row = Record<string, number> & { worker?: [number, number, number, number, number] };

export interface BreakdownRow {
  phase: string;
  "c=1 p50": number;
  "c=1 mean": number;
  "c=16 p50": number;
  "c=16 mean": number;
}

export interface BreakdownResult {
  rows: BreakdownRow[];
  loadAverage: number[];
  calls: { c1: number; c16: number };
}

const PHASES: Array<[string, (r: Row, client: number) => number]> = [
  ["broker before the sandbox (parse, admit, schema, admission)", (r) => r.exec! - r.start!],
  ["executor before IPC (JSON input, dispatch)", (r) => r.sent! - r.exec!],
  ["IPC out + back (round trip minus worker time)", (r) => r.back! - r.sent! - (r.worker?.[4] ?? 0)],
  ["waiting for an isolate in the worker", (r) => r.worker?.[0] ?? 0],
  ["waiting for a prepared context", (r) => r.worker?.[1] ?? 0],
  ["in the isolate (apply)", (r) => r.worker?.[2] ?? 0],
  ["worker after apply (heap check, notifications)", (r) => r.worker?.[3] ?? 0],
  ["output parse + checks + verdicts", (r) => r.checked! - r.back!],
  ["audit append + sync", (r) => r.audited! - r.checked!],
  ["broker total", (r) => r.audited! - r.start!],
];

export async function benchBreakdown(buildRoot: string, config: string, tool: string, input: Record<string, unknown>, options: { serialCalls: number; loadSeconds: number }): Promise<BreakdownResult> {
  const file = join(mkdtempSync(join(tmpdir(), "warden-timings-")), "timings.jsonl");
  const transport = new StdioClientTransport({
    command: join(buildRoot, "..", "bin", "warden.js"),
    args: ["serve", "--config", config],
    env: { ...(process.env as Record<string, string>), WARDEN_LOG_LEVEL: "warn", WARDEN_TIMINGS: "1", WARDEN_TIMINGS_FILE: file },
    stderr: "ignore",
  });
  const client = new Client({ name: "bench-breakdown", version: "1" });
  await client.connect(transport);
  await client.listTools();
  const once = async () => {
    const r = await client.request({ method: "tools/call", params: { name: tool, arguments: input } }, CallToolResultSchema);
    if (r.isError) throw new Error(`breakdown: a call failed: ${JSON.stringify(r.structuredContent).slice(0, 200)}`);
  };
  for (let i = 0; i < 200; i++) await once();
  await new Promise((r) => setTimeout(r, 300));
  const serialFrom = Date.now();
  const clientC1: number[] = [];
  for (let i = 0; i < options.serialCalls; i++) {
    const s = performance.now();
    await once();
    clientC1.push(performance.now() - s);
  }
  const serialTo = Date.now();
  await new Promise((r) => setTimeout(r, 100));
  const loadFrom = Date.now();
  const clientC16: number[] = [];
  const end = performance.now() + options.loadSeconds * 1000;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        await once();
        clientC16.push(performance.now() - s);
      }
    }),
  );
  const loadTo = Date.now();
  await client.close();
  // The server writes its records at exit.
  for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 50));
  const rows = readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Row);
  const complete = rows.filter((r) => r.start !== undefined && r.exec !== undefined && r.sent !== undefined && r.back !== undefined && r.audited !== undefined);
  const c1 = complete.filter((r) => r.wall! >= serialFrom && r.wall! <= serialTo);
  const c16 = complete.filter((r) => r.wall! >= loadFrom && r.wall! <= loadTo);
  const stat = (set: Row[], fn: (r: Row, client: number) => number) => {
    const values = set.map((r) => fn(r, 0)).sort((a, b) => a - b);
    return { p50: round(percentile(values, 50)), mean: round(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)) };
  };
  const out: BreakdownRow[] = PHASES.map(([phase, fn]) => {
    const a = stat(c1, fn);
    const b = stat(c16, fn);
    return { phase, "c=1 p50": a.p50, "c=1 mean": a.mean, "c=16 p50": b.p50, "c=16 mean": b.mean };
  });
  const sorted1 = clientC1.sort((a, b) => a - b);
  const sorted16 = clientC16.sort((a, b) => a - b);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const total = out.at(-1)!;
  out.push({
    phase: "MCP + stdio, both ends (client latency − broker total)",
    "c=1 p50": round(percentile(sorted1, 50) - total["c=1 p50"]),
    "c=1 mean": round(mean(sorted1) - total["c=1 mean"]),
    "c=16 p50": round(percentile(sorted16, 50) - total["c=16 p50"]),
    "c=16 mean": round(mean(sorted16) - total["c=16 mean"]),
  });
  out.push({ phase: "client latency", "c=1 p50": round(percentile(sorted1, 50)), "c=1 mean": round(mean(sorted1)), "c=16 p50": round(percentile(sorted16, 50)), "c=16 mean": round(mean(sorted16)) });
  return { rows: out, loadAverage: loadavg().map((l) => round(l, 2)), calls: { c1: c1.length, c16: c16.length } };
}
