import { createServer } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEgressFetch } from "../src/capabilities/network/index.js";
import { createVolumeFs } from "../src/capabilities/filesystem/index.js";
import { percentile, round } from "./stats.js";

async function p50(n: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(50, n); i++) await fn();
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn();
    lat.push(performance.now() - s);
  }
  return round(percentile(lat.sort((a, b) => a - b), 50));
}

/** ctx.fetch and ctx.fs host sides against the plain Node calls, in the same run. */
export async function benchCapabilities(quick: boolean) {
  const n = quick ? 300 : 2000;
  const server = createServer((_req, res) => res.end('{"ok":true}'));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
  const egress = createEgressFetch({ tool: "bench", grants: [{ pattern: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, allowPrivate: true }], onEgress: () => {} });
  const signal = new AbortController().signal;
  const plainFetch = await p50(n, async () => (await fetch(url)).arrayBuffer());
  const wardenFetch = await p50(n, async () => {
    const r = await egress({ url }, signal);
    if (!r.ok) throw new Error(r.error.message);
  });
  server.close();

  const dir = mkdtempSync(join(tmpdir(), "warden-bench-vol-"));
  writeFileSync(join(dir, "big.bin"), Buffer.alloc(1024 * 1024, 7));
  const vfs = createVolumeFs({ tool: "bench", volumes: [{ volume: "ws", access: "read", hostPath: dir }], onFileOp: () => {} });
  const plainRead = await p50(n / 4, () => readFile(join(dir, "big.bin")));
  const wardenRead = await p50(n / 4, async () => {
    const r = await vfs({ op: "readFile", path: "/mnt/ws/big.bin" });
    if (!r.ok) throw new Error(r.error.message);
  });
  return [
    { what: "GET loopback (p50 ms)", plain: plainFetch, warden: wardenFetch, ratio: round(wardenFetch / plainFetch, 2), target: "≤ 1.5×" },
    { what: "readFile 1 MiB (p50 ms)", plain: plainRead, warden: wardenRead, ratio: round(wardenRead / plainRead, 2), target: "≤ 2×" },
  ];
}
