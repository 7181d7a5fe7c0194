import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { volumeFixture, type VolumeFixture } from "./volume-fixture.js";

let v: VolumeFixture | undefined;
afterEach(() => v?.cleanup());

const HOUR = 3_600_000;

describe("volume quota (maxBytes)", () => {
  test("a write that would take the volume over its quota is refused before writing", async () => {
    v = volumeFixture({ maxBytes: 1000 });
    mkdirSync(join(v.ws, "d"));
    writeFileSync(join(v.ws, "d", "existing"), "x".repeat(600));
    const res = await v.fs({ op: "writeFile", path: "/mnt/ws/new.txt", data: "y".repeat(500) });
    assert.deepEqual(res, {
      ok: false,
      error: {
        code: "E_CAPABILITY_DENIED",
        message: "filesystem: write to /mnt/ws/new.txt refused: volume ws would hold 1100 bytes, over its quota of 1000 bytes; remove files or have the operator raise maxBytes for ws",
      },
    });
    assert.ok(!existsSync(join(v.ws, "new.txt")), "nothing was created");
    assert.equal((await v.fs({ op: "writeFile", path: "/mnt/ws/new.txt", data: "y".repeat(400) })).ok, true);
  });

  test("overwriting counts only the growth, and shrinking is allowed even over quota", async () => {
    v = volumeFixture({ maxBytes: 1000 });
    writeFileSync(join(v.ws, "f"), "x".repeat(1200)); // already over (operator put it there)
    assert.equal((await v.fs({ op: "writeFile", path: "/mnt/ws/f", data: "x".repeat(1100) })).ok, true);
    assert.equal(statSync(join(v.ws, "f")).size, 1100);
    const grow = await v.fs({ op: "writeFile", path: "/mnt/ws/f", data: "x".repeat(1101) });
    assert.equal(grow.ok || grow.error.code, "E_CAPABILITY_DENIED");
    assert.equal(readFileSync(join(v.ws, "f"), "utf8").length, 1100, "the refused write left the file as it was");
  });

  test("our own writes and removals keep the tally without a re-walk", async () => {
    // A re-walk every hour at most: only the running tally can know about the first write.
    v = volumeFixture({ maxBytes: 1000 }, { quotaRescanMs: HOUR });
    assert.equal((await v.fs({ op: "writeFile", path: "/mnt/ws/a", data: "x".repeat(600) })).ok, true);
    const second = await v.fs({ op: "writeFile", path: "/mnt/ws/b", data: "x".repeat(600) });
    assert.equal(second.ok || second.error.code, "E_CAPABILITY_DENIED");
    assert.equal((await v.fs({ op: "rm", path: "/mnt/ws/a" })).ok, true);
    assert.equal((await v.fs({ op: "writeFile", path: "/mnt/ws/b", data: "x".repeat(600) })).ok, true);
  });

  test("concurrent writes cannot both squeeze under the quota", async () => {
    v = volumeFixture({ maxBytes: 1000 }, { quotaRescanMs: HOUR });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => v!.fs({ op: "writeFile", path: `/mnt/ws/f${i}`, data: "x".repeat(300) })),
    );
    assert.equal(results.filter((r) => r.ok).length, 3);
  });

  test("changes made outside warden are picked up by the next re-walk", async () => {
    v = volumeFixture({ maxBytes: 1000 }, { quotaRescanMs: 0 });
    assert.equal((await v.fs({ op: "writeFile", path: "/mnt/ws/a", data: "x".repeat(100) })).ok, true);
    writeFileSync(join(v.ws, "external"), "x".repeat(800)); // e.g. a container tool on the same volume
    const res = await v.fs({ op: "writeFile", path: "/mnt/ws/b", data: "x".repeat(200) });
    assert.equal(res.ok || res.error.code, "E_CAPABILITY_DENIED");
  });

  test("writes by a tool without a quota on the same directory still count for the one with it", async () => {
    v = volumeFixture({ maxBytes: 1000 }, { quotaRescanMs: HOUR });
    const { createVolumeFs } = await import("../../../src/capabilities/filesystem/index.js");
    const unlimited = createVolumeFs({ tool: "other_tool", volumes: [{ volume: "ws", access: "read-write", hostPath: v.ws }], onFileOp: () => {} });
    assert.equal((await v.fs({ op: "writeFile", path: "/mnt/ws/a", data: "x".repeat(100) })).ok, true);
    assert.equal((await unlimited({ op: "writeFile", path: "/mnt/ws/b", data: "x".repeat(800) })).ok, true);
    const res = await v.fs({ op: "writeFile", path: "/mnt/ws/c", data: "x".repeat(200) });
    assert.equal(res.ok || res.error.code, "E_CAPABILITY_DENIED");
  });

  test("a volume without maxBytes has no quota", async () => {
    v = volumeFixture();
    assert.equal((await v.fs({ op: "writeFile", path: "/mnt/ws/big", data: "x".repeat(100_000) })).ok, true);
  });
});
