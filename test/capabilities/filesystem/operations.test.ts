import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { WardenError } from "../../../src/errors.js";
import { volumeFixture, type VolumeFixture } from "./volume-fixture.js";

let v: VolumeFixture;
beforeEach(() => {
  v = volumeFixture();
});
afterEach(() => v.cleanup());

describe("ctx.fs operations on a read-write volume", () => {
  test("writeFile then readFile round-trips text and bytes", async () => {
    assert.deepEqual(await v.fs({ op: "writeFile", path: "/mnt/ws/a.txt", data: "héllo" }), { ok: true, value: null });
    assert.equal(readFileSync(join(v.ws, "a.txt"), "utf8"), "héllo");
    assert.deepEqual(await v.fs({ op: "readFile", path: "/mnt/ws/a.txt", encoding: "utf8" }), { ok: true, value: "héllo" });
    await v.fs({ op: "writeFile", path: "/mnt/ws/b.bin", data: new Uint8Array([0, 1, 255]) });
    const bytes = await v.fs({ op: "readFile", path: "/mnt/ws/b.bin" });
    assert.ok(bytes.ok && bytes.value instanceof Uint8Array);
    assert.deepEqual([...(bytes.value as Uint8Array)], [0, 1, 255]);
  });

  test("writeFile replaces a longer file completely", async () => {
    writeFileSync(join(v.ws, "a.txt"), "a much longer old content");
    await v.fs({ op: "writeFile", path: "/mnt/ws/a.txt", data: "new" });
    assert.equal(readFileSync(join(v.ws, "a.txt"), "utf8"), "new");
  });

  test("readdir returns sorted names", async () => {
    for (const name of ["b", "a", "c"]) writeFileSync(join(v.ws, name), "");
    mkdirSync(join(v.ws, "d"));
    assert.deepEqual(await v.fs({ op: "readdir", path: "/mnt/ws" }), { ok: true, value: ["a", "b", "c", "d"] });
  });

  test("stat reports type and size", async () => {
    writeFileSync(join(v.ws, "f"), "12345");
    const file = await v.fs({ op: "stat", path: "/mnt/ws/f" });
    assert.ok(file.ok);
    assert.equal((file.value as { type: string }).type, "file");
    assert.equal((file.value as { size: number }).size, 5);
    const root = await v.fs({ op: "stat", path: "/mnt/ws" });
    assert.ok(root.ok && (root.value as { type: string }).type === "directory");
  });

  test("mkdir creates one directory; recursive creates every component; an existing one fails without recursive", async () => {
    assert.equal((await v.fs({ op: "mkdir", path: "/mnt/ws/one" })).ok, true);
    assert.equal((await v.fs({ op: "mkdir", path: "/mnt/ws/x/y/z", recursive: true })).ok, true);
    assert.ok(existsSync(join(v.ws, "x/y/z")));
    const again = await v.fs({ op: "mkdir", path: "/mnt/ws/one" });
    assert.deepEqual(again, { ok: false, error: { code: "E_TOOL_FAILED", message: "filesystem: /mnt/ws/one: already exists" } });
    assert.equal((await v.fs({ op: "mkdir", path: "/mnt/ws/one", recursive: true })).ok, true);
  });

  test("rm removes a file; a directory needs recursive", async () => {
    writeFileSync(join(v.ws, "f"), "x");
    mkdirSync(join(v.ws, "d/e"), { recursive: true });
    writeFileSync(join(v.ws, "d/e/g"), "x");
    assert.equal((await v.fs({ op: "rm", path: "/mnt/ws/f" })).ok, true);
    assert.ok(!existsSync(join(v.ws, "f")));
    const noRecursive = await v.fs({ op: "rm", path: "/mnt/ws/d" });
    assert.equal(noRecursive.ok || noRecursive.error.code, "E_TOOL_FAILED");
    assert.ok(existsSync(join(v.ws, "d/e/g")));
    assert.equal((await v.fs({ op: "rm", path: "/mnt/ws/d", recursive: true })).ok, true);
    assert.ok(!existsSync(join(v.ws, "d")));
  });

  test("a missing file is an ordinary tool failure, not a denial", async () => {
    const res = await v.fs({ op: "readFile", path: "/mnt/ws/x", encoding: "utf8" });
    assert.deepEqual(res, { ok: false, error: { code: "E_TOOL_FAILED", message: "filesystem: /mnt/ws/x: no such file" } });
    assert.deepEqual(v.records.at(-1), { volume: "ws", path: "/mnt/ws/x", op: "readFile" });
    for (const op of ["stat", "rm", "readdir"] as const) {
      const r = await v.fs({ op, path: "/mnt/ws/nope/deeper" });
      assert.equal(r.ok || r.error.code, "E_TOOL_FAILED", op);
    }
  });

  test("reading a directory or listing a file fails as a tool error", async () => {
    writeFileSync(join(v.ws, "f"), "x");
    const dir = await v.fs({ op: "readFile", path: "/mnt/ws" });
    assert.deepEqual(dir, { ok: false, error: { code: "E_TOOL_FAILED", message: "filesystem: /mnt/ws: is a directory" } });
    const list = await v.fs({ op: "readdir", path: "/mnt/ws/f" });
    assert.deepEqual(list, { ok: false, error: { code: "E_TOOL_FAILED", message: "filesystem: /mnt/ws/f: not a directory" } });
  });

  test("every operation leaves exactly one file record", async () => {
    await v.fs({ op: "writeFile", path: "/mnt/ws/a", data: "1" });
    await v.fs({ op: "readFile", path: "/mnt/ws/a" });
    await v.fs({ op: "readdir", path: "/mnt/ws" });
    await v.fs({ op: "stat", path: "/mnt/ws/a" });
    await v.fs({ op: "mkdir", path: "/mnt/ws/d" });
    await v.fs({ op: "rm", path: "/mnt/ws/a" });
    await v.fs({ op: "readFile", path: "/mnt/other/a" });
    assert.deepEqual(
      v.records.map((r) => [r.op, r.path, r.volume, r.denied === undefined]),
      [
        ["writeFile", "/mnt/ws/a", "ws", true],
        ["readFile", "/mnt/ws/a", "ws", true],
        ["readdir", "/mnt/ws", "ws", true],
        ["stat", "/mnt/ws/a", "ws", true],
        ["mkdir", "/mnt/ws/d", "ws", true],
        ["rm", "/mnt/ws/a", "ws", true],
        ["readFile", "/mnt/other/a", "other", false],
      ],
    );
  });

  test("a result that cannot be audited is withheld, and the host function still does not reject", async () => {
    const { createVolumeFs } = await import("../../../src/capabilities/filesystem/index.js");
    writeFileSync(join(v.ws, "secret.txt"), "data");
    let calls = 0;
    const fs = createVolumeFs({
      tool: "notes_tool",
      volumes: [{ volume: "ws", access: "read", hostPath: v.ws }],
      onFileOp: () => {
        calls++;
        throw new Error("audit sink down");
      },
    });
    const res = await fs({ op: "readFile", path: "/mnt/ws/secret.txt", encoding: "utf8" });
    assert.equal(res.ok, false);
    assert.equal(calls, 1, "one record attempt per operation");
  });

  test("a file larger than maxReadBytes is refused, not truncated", async () => {
    const small = volumeFixture({}, { maxReadBytes: 10 });
    try {
      writeFileSync(join(small.ws, "big"), "x".repeat(11));
      writeFileSync(join(small.ws, "ok"), "x".repeat(10));
      const res = await small.fs({ op: "readFile", path: "/mnt/ws/big" });
      assert.deepEqual(res, {
        ok: false,
        error: { code: "E_CAPABILITY_DENIED", message: "filesystem: /mnt/ws/big is refused: the file is 11 bytes, over the read limit of 10 bytes" },
      });
      assert.equal((await small.fs({ op: "readFile", path: "/mnt/ws/ok", encoding: "utf8" })).ok, true);
    } finally {
      small.cleanup();
    }
  });

  test("a cancelled call touches nothing", async () => {
    const controller = new AbortController();
    controller.abort(new WardenError("E_TIMEOUT", "timed out"));
    const res = await v.fs({ op: "writeFile", path: "/mnt/ws/late", data: "x" }, controller.signal);
    assert.equal(res.ok || res.error.code, "E_TIMEOUT");
    assert.ok(!existsSync(join(v.ws, "late")));
  });

  test("an unknown operation or bad data is a tool failure", async () => {
    const unknown = await v.fs({ op: "chmod", path: "/mnt/ws/a" } as never);
    assert.equal(unknown.ok || unknown.error.code, "E_TOOL_FAILED");
    const bad = await v.fs({ op: "writeFile", path: "/mnt/ws/a", data: 42 } as never);
    assert.equal(bad.ok || bad.error.code, "E_TOOL_FAILED");
    assert.ok(!existsSync(join(v.ws, "a")));
  });
});
