import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { percentile, round, treeRss, treeRssMb } from "./stats.js";

export interface McpBenchResult {
  name: string;
  startupToFirstListMs: number;
  p50Ms: number;
  p99Ms: number;
  callsPerSecC16: number;
  rssIdleMb: number;
  rssLoadMb: number;
  /** RSS (anonymous) of each process, the server first, and the tree's PSS: idle, and right after the load. */
  processesIdle: string;
  processesAfterLoad: string;
  errors: number;
}

const describeTree = (pid: number) => {
  const tree = treeRss(pid);
  return `${tree.map((p) => `${p.rssMb} (${p.anonMb})`).join(" + ")}; PSS ${round(tree.reduce((sum, p) => sum + p.pssMb, 0), 1)}`;
};

/** Spawns an MCP server over stdio and measures it with a real SDK client. */
export async function benchMcpServer(name: string, command: string, args: string[], env: Record<string, string>, tool: string, input: Record<string, unknown>, options: { serialCalls: number; loadSeconds: number }): Promise<McpBenchResult> {
  const t0 = performance.now();
  const transport = new StdioClientTransport({ command, args, env: { ...(process.env as Record<string, string>), ...env }, stderr: "ignore" });
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(transport);
  await client.listTools();
  const startupToFirstListMs = performance.now() - t0;
  const pid = transport.pid!;
  let errors = 0;
  let firstError = "";
  const once = async () => {
    const r = await client.request({ method: "tools/call", params: { name: tool, arguments: input } }, CallToolResultSchema);
    if (r.isError) {
      errors++;
      firstError ||= JSON.stringify(r.structuredContent).slice(0, 200);
    }
  };
  for (let i = 0; i < 200; i++) await once(); // warm-up
  await new Promise((r) => setTimeout(r, 300));
  const rssIdleMb = treeRssMb(pid);
  const processesIdle = describeTree(pid);
  const lat: number[] = [];
  for (let i = 0; i < options.serialCalls; i++) {
    const s = performance.now();
    await once();
    lat.push(performance.now() - s);
  }
  lat.sort((a, b) => a - b);
  let done = 0;
  let rssLoadMb = 0;
  const end = performance.now() + options.loadSeconds * 1000;
  const sampler = setInterval(() => (rssLoadMb = Math.max(rssLoadMb, treeRssMb(pid))), 250);
  const loadStart = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < end) {
        await once();
        done++;
      }
    }),
  );
  const callsPerSecC16 = done / ((performance.now() - loadStart) / 1000);
  clearInterval(sampler);
  const processesAfterLoad = describeTree(pid);
  await client.close();
  // A benchmark of refusals measures nothing: fail loudly instead of printing numbers.
  if (errors > 0) throw new Error(`${name}: ${errors} calls failed, first: ${firstError}`);
  return {
    name,
    startupToFirstListMs: round(startupToFirstListMs, 1),
    p50Ms: round(percentile(lat, 50)),
    p99Ms: round(percentile(lat, 99)),
    callsPerSecC16: Math.round(callsPerSecC16),
    rssIdleMb,
    rssLoadMb,
    processesIdle,
    processesAfterLoad,
    errors,
  };
}
