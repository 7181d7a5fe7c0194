import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { volumeFixture, type VolumeFixture } from "./volume-fixture.js";

let v: VolumeFixture;
beforeEach(() => {
  v = volumeFixture();
  mkdirSync(join(v.ws, "a"));
  writeFileSync(join(v.ws, "a.txt"), "inside");
});
afterEach(() => v.cleanup());

async function refusal(path: unknown, op: "readFile" | "writeFile" = "readFile"): Promise<string> {
  const res = await v.fs(op === "readFile" ? { op, path: path as string } : { op, path: path as string, data: "x" });
  assert.equal(res.ok, false, `expected ${String(path)} to be refused`);
  assert.equal(res.ok || res.error.code, "E_CAPABILITY_DENIED");
  const record = v.records.at(-1);
  assert.equal(record?.denied, res.ok ? undefined : res.error.message, "the refusal is in the file record");
  return res.ok ? "" : res.error.message;
}

describe("tool path syntax", () => {
  test('".." is refused, even when it would normalise inside the volume', async () => {
    assert.equal(
      await refusal("/mnt/ws/../etc/passwd"),
      'filesystem: /mnt/ws/../etc/passwd is refused: ".." is not allowed in paths',
    );
    // /mnt/ws/a/../a.txt would be /mnt/ws/a.txt, which exists: refused anyway.
    assert.match(await refusal("/mnt/ws/a/../a.txt"), /"\.\." is not allowed/);
    assert.match(await refusal("/mnt/ws/a/..", "writeFile"), /"\.\." is not allowed/);
  });

  test("a volume name followed by .. cannot reach the sibling host directory", async () => {
    assert.match(await refusal("/mnt/ws/../ws-evil/canary.txt"), /"\.\." is not allowed/);
  });

  test("a NUL byte is refused and shown escaped", async () => {
    assert.equal(
      await refusal("/mnt/ws/a.txt\0.png"),
      "filesystem: /mnt/ws/a.txt\\x00.png is refused: NUL bytes are not allowed in paths",
    );
  });

  test("backslashes are refused", async () => {
    assert.match(await refusal("/mnt/ws\\..\\ws-evil\\canary.txt"), /backslashes are not allowed/);
    assert.match(await refusal("/mnt/ws/a\\b"), /backslashes are not allowed/);
  });

  test("empty and over-long paths and components are refused", async () => {
    assert.match(await refusal(""), /the path is empty/);
    assert.match(await refusal(`/mnt/ws/${"a/".repeat(2050)}`), /longer than 4096 characters/);
    assert.match(await refusal(`/mnt/ws/${"b".repeat(256)}`), /longer than 255 bytes/);
    assert.match(await refusal(`/mnt/ws/${"é".repeat(128)}`), /longer than 255 bytes/);
    assert.match(await refusal(42), /a path must be a string/);
  });

  test("paths outside /mnt/<volume> are refused", async () => {
    for (const path of ["/etc/passwd", "mnt/ws/a.txt", "ws/a.txt", "/mnt", "/mnt/", "//mnt/ws/a.txt", "/mnt//ws/a.txt"]) {
      assert.match(await refusal(path), /paths must start with \/mnt\/<volume>/, path);
    }
  });

  test("an ungranted volume is refused, with the grant that would allow it", async () => {
    assert.equal(
      await refusal("/mnt/secrets/key"),
      'filesystem: /mnt/secrets/key is refused: volume "secrets" is not granted to notes_tool; declare {"volume": "secrets", "access": "read"} (or "read-write") in its manifest and have the operator grant it',
    );
    assert.deepEqual(v.records.at(-1)?.volume, "secrets");
  });

  test("a volume name with the granted one as prefix is another volume (ws-evil is not ws)", async () => {
    assert.match(await refusal("/mnt/ws-evil/canary.txt"), /volume "ws-evil" is not granted/);
    assert.match(await refusal("/mnt/ws-evil/new.txt", "writeFile"), /volume "ws-evil" is not granted/);
    assert.ok(v.outsideUntouched());
  });

  test("empty and . components are harmless and ignored", async () => {
    assert.deepEqual(await v.fs({ op: "readFile", path: "/mnt/ws/./a.txt", encoding: "utf8" }), { ok: true, value: "inside" });
    assert.deepEqual(await v.fs({ op: "readFile", path: "/mnt/ws//a.txt", encoding: "utf8" }), { ok: true, value: "inside" });
    assert.ok(existsSync(join(v.ws, "a.txt")));
  });
});
