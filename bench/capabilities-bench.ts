import { createServer } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEgressFetch } from "../src/capabilities/network/index.js";
import { createVolumeFs } from "../src/capabilities/filesystem/index.js";
import { percentile, round } from "./stats.js";

/** Interleaved (a, b, a, b, …) so both sides see the same machine state; returns both p50s. */
async function pairedP50(n: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  for (let i = 0; i < Math.min(50, n); i++) {
    await a();
    await b();
  }
  const la: number[] = [];
  const lb: number[] = [];
  for (let i = 0; i < n; i++) {
    let s = performance.now();
    await a();
    la.push(performance.now() - s);
    s = performance.now();
    await b();
    lb.push(performance.now() - s);
  }
  const p = (l: number[]) => round(percentile(l.sort((x, y) => x - y), 50));
  return [p(la), p(lb)];
}

/** ctx.fetch and ctx.fs host sides against the plain Node calls, in the same run. */
export async function benchCapabilities(quick: boolean) {
  const n = quick ? 300 : 2000;
  const server = createServer((_req, res) => res.end('{"ok":true}'));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
  const egress = createEgressFetch({ tool: "bench", grants: [{ pattern: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, allowPrivate: true }], onEgress: () => {} });
  const signal = new AbortController().signal;
  const [plainFetch, wardenFetch] = await pairedP50(
    n,
    async () => (await fetch(url)).arrayBuffer(),
    async () => {
      const r = await egress({ url }, signal);
      if (!r.ok) throw new Error(r.error.message);
    },
  );
  server.close();

  const dir = mkdtempSync(join(tmpdir(), "warden-bench-vol-"));
  writeFileSync(join(dir, "big.bin"), Buffer.alloc(1024 * 1024, 7));
  const vfs = createVolumeFs({ tool: "bench", volumes: [{ volume: "ws", access: "read", hostPath: dir }], onFileOp: () => {} });
  const [plainRead, wardenRead] = await pairedP50(
    n / 4,
    () => readFile(join(dir, "big.bin")),
    async () => {
      const r = await vfs({ op: "readFile", path: "/mnt/ws/big.bin" });
      if (!r.ok) throw new Error(r.error.message);
    },
  );
  return [
    { what: "GET loopback (p50 ms)", plain: plainFetch, warden: wardenFetch, ratio: round(wardenFetch / plainFetch, 2), target: "≤ 1.5×" },
    { what: "readFile 1 MiB (p50 ms)", plain: plainRead, warden: wardenRead, ratio: round(wardenRead / plainRead, 2), target: "≤ 2×" },
  ];
}
