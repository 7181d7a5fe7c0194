import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { WardenError } from "../../../src/errors.js";
import { volumeFixture, type VolumeFixture } from "./volume-fixture.js";

let v: VolumeFixture | undefined;
afterEach(() => v?.cleanup());

describe("read-only grants", () => {
  test("writeFile on a read grant is refused with the grant that would allow it", async () => {
    v = volumeFixture({ volume: "docs", access: "read" });
    writeFileSync(join(v.ws, "a.txt"), "original");
    const res = await v.fs({ op: "writeFile", path: "/mnt/docs/a.txt", data: "changed" });
    const message =
      'filesystem: write to /mnt/docs/a.txt refused: docs is granted read-only to notes_tool; grant {"volume": "docs", "access": "read-write"} to allow it';
    assert.deepEqual(res, { ok: false, error: { code: "E_CAPABILITY_DENIED", message } });
    assert.equal(readFileSync(join(v.ws, "a.txt"), "utf8"), "original");
    assert.deepEqual(v.records, [{ volume: "docs", path: "/mnt/docs/a.txt", op: "writeFile", denied: message }]);
  });

  test("mkdir and rm on a read grant are refused; reads still work", async () => {
    v = volumeFixture({ volume: "docs", access: "read" });
    writeFileSync(join(v.ws, "a.txt"), "original");
    mkdirSync(join(v.ws, "d"));
    const mkdir = await v.fs({ op: "mkdir", path: "/mnt/docs/new", recursive: true });
    assert.equal(mkdir.ok || mkdir.error.message, 'filesystem: mkdir of /mnt/docs/new refused: docs is granted read-only to notes_tool; grant {"volume": "docs", "access": "read-write"} to allow it');
    const rm = await v.fs({ op: "rm", path: "/mnt/docs/d", recursive: true });
    assert.equal(rm.ok || rm.error.code, "E_CAPABILITY_DENIED");
    assert.ok(!existsSync(join(v.ws, "new")) && existsSync(join(v.ws, "d")));
    assert.deepEqual(await v.fs({ op: "readFile", path: "/mnt/docs/a.txt", encoding: "utf8" }), { ok: true, value: "original" });
  });

  test("each volume keeps its own access", async () => {
    v = volumeFixture();
    const second = volumeFixture({ volume: "docs", access: "read" });
    try {
      const { createVolumeFs } = await import("../../../src/capabilities/filesystem/index.js");
      const fs = createVolumeFs({
        tool: "notes_tool",
        volumes: [
          { volume: "ws", access: "read-write", hostPath: v.ws },
          { volume: "docs", access: "read", hostPath: second.ws },
        ],
        onFileOp: () => {},
      });
      assert.equal((await fs({ op: "writeFile", path: "/mnt/ws/ok.txt", data: "x" })).ok, true);
      const refused = await fs({ op: "writeFile", path: "/mnt/docs/no.txt", data: "x" });
      assert.equal(refused.ok || refused.error.code, "E_CAPABILITY_DENIED");
      assert.ok(!existsSync(join(second.ws, "no.txt")));
    } finally {
      second.cleanup();
    }
  });
});

describe("the rollback journal hook (beforeMutation)", () => {
  test("is called before every mutation with the host-side target", async () => {
    const changes: { volume: string; path: string; op: string; existed: boolean }[] = [];
    v = volumeFixture({}, {
      beforeMutation: async (change) => {
        changes.push({ ...change, existed: existsSync(change.path) });
      },
    });
    await v.fs({ op: "writeFile", path: "/mnt/ws/a.txt", data: "x" });
    await v.fs({ op: "mkdir", path: "/mnt/ws/d" });
    await v.fs({ op: "mkdir", path: "/mnt/ws/d/e/f", recursive: true });
    await v.fs({ op: "rm", path: "/mnt/ws/a.txt" });
    await v.fs({ op: "readFile", path: "/mnt/ws/d" });
    assert.deepEqual(changes, [
      { volume: "ws", path: join(v.ws, "a.txt"), op: "writeFile", existed: false },
      { volume: "ws", path: join(v.ws, "d"), op: "mkdir", existed: false },
      { volume: "ws", path: join(v.ws, "d/e"), op: "mkdir", existed: false },
      { volume: "ws", path: join(v.ws, "d/e/f"), op: "mkdir", existed: false },
      { volume: "ws", path: join(v.ws, "a.txt"), op: "rm", existed: true },
    ]);
  });

  test("a WardenError from the hook refuses the change and nothing is written", async () => {
    v = volumeFixture({}, {
      beforeMutation: async () => {
        throw new WardenError("E_CAPABILITY_DENIED", "filesystem: the journal refused it");
      },
    });
    writeFileSync(join(v.ws, "keep.txt"), "keep");
    const write = await v.fs({ op: "writeFile", path: "/mnt/ws/a.txt", data: "x" });
    assert.deepEqual(write, { ok: false, error: { code: "E_CAPABILITY_DENIED", message: "filesystem: the journal refused it" } });
    assert.equal((await v.fs({ op: "rm", path: "/mnt/ws/keep.txt" })).ok, false);
    assert.equal((await v.fs({ op: "mkdir", path: "/mnt/ws/x/y", recursive: true })).ok, false);
    assert.ok(!existsSync(join(v.ws, "a.txt")) && existsSync(join(v.ws, "keep.txt")) && !existsSync(join(v.ws, "x")));
    assert.equal(v.records.at(0)?.denied, "filesystem: the journal refused it");
  });

  test("any other error from the hook also refuses, without leaking its message", async () => {
    v = volumeFixture({}, {
      beforeMutation: async () => {
        throw new Error(`EACCES: permission denied, open '/var/lib/warden/journal/x'`);
      },
    });
    const res = await v.fs({ op: "writeFile", path: "/mnt/ws/a.txt", data: "x" });
    assert.deepEqual(res, {
      ok: false,
      error: { code: "E_TOOL_FAILED", message: "filesystem: writeFile of /mnt/ws/a.txt refused: the rollback journal could not record it" },
    });
    assert.ok(!existsSync(join(v.ws, "a.txt")));
    assert.ok(v.records.at(-1)?.denied, "the refusal is recorded as denied");
  });
});
