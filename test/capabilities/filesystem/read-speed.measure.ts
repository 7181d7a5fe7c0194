/**
 * Not a test (no timing assertions in tests): p50 of readFile of a 1 MiB file
 * through createVolumeFs vs plain fs.promises.readFile, measured in the same
 * run. Target: ≤ 2×. Run: node --no-node-snapshot <build>/test/capabilities/filesystem/read-speed.measure.js
 * (belongs in bench/ once that folder's owner wires it in).
 */
import { readFile } from "node:fs/promises";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { volumeFixture } from "./volume-fixture.js";

const RUNS = 400;

/** Interleaves the two so that load from elsewhere on the machine hits both alike. */
async function p50s(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  for (let i = 0; i < 50; i++) await Promise.all([a(), b()]);
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < RUNS; i++) {
    for (const [k, run] of [a, b].entries()) {
      const start = process.hrtime.bigint();
      await run();
      times[k as 0 | 1].push(Number(process.hrtime.bigint() - start) / 1e3);
    }
  }
  const median = (t: number[]) => t.sort((x, y) => x - y)[Math.floor(t.length / 2)] as number;
  return [median(times[0]), median(times[1])];
}

const v = volumeFixture();
try {
  writeFileSync(join(v.ws, "one-mib.bin"), Buffer.alloc(1024 * 1024, 7));
  const rows: Record<string, number>[] = [];
  for (let round = 0; round < 3; round++) {
    const [baseline, warden] = await p50s(
      () => readFile(join(v.ws, "one-mib.bin")),
      async () => {
        const res = await v.fs({ op: "readFile", path: "/mnt/ws/one-mib.bin" });
        if (!res.ok) throw new Error(res.error.message);
      },
    );
    rows.push({ round, baselineUs: Math.round(baseline), wardenUs: Math.round(warden), ratio: Number((warden / baseline).toFixed(2)) });
  }
  console.table(rows);
  console.log(JSON.stringify({ bench: "ctx.fs readFile 1 MiB p50", runs: RUNS, rows }));
} finally {
  v.cleanup();
}
