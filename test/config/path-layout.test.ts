import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadConfigFile } from "../../src/config/load.js";

function configIn(config: Record<string, unknown>, setup?: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), "warden-layout-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  setup?.(dir);
  const file = join(dir, "warden.config.json");
  writeFileSync(file, JSON.stringify({ tools: ["./tools/*"], audit: { file: "./audit/a.jsonl" }, ...config }));
  return file;
}

async function refusal(file: string): Promise<string> {
  const err = await loadConfigFile(file).then(
    () => null,
    (e: Error & { code?: string }) => e,
  );
  assert.ok(err, "the config was accepted");
  assert.equal((err as { code?: string }).code, "E_CONFIG");
  return err.message;
}

describe("config load: where volumes may sit", () => {
  test("nested volumes (ws and ws/inner) are refused", async () => {
    const message = await refusal(configIn({ volumes: { ws: { path: "./ws" }, inner: { path: "./ws/inner" } } }));
    assert.match(message, /volumes\.ws .* and volumes\.inner .* overlap/);
  });

  test("two names for the same folder are refused", async () => {
    assert.match(await refusal(configIn({ volumes: { a: { path: "./data" }, b: { path: "./data/" } } })), /overlap/);
  });

  test("a volume reaching into another through a symlink in the operator's layout is refused", async () => {
    const file = configIn({ volumes: { ws: { path: "./ws" }, inner: { path: "./alias/inner" } } }, (dir) => {
      mkdirSync(join(dir, "ws", "inner"), { recursive: true });
      symlinkSync(join(dir, "ws"), join(dir, "alias"));
    });
    assert.match(await refusal(file), /overlap/);
  });

  test("journal.dir inside a volume is refused", async () => {
    assert.match(await refusal(configIn({ volumes: { ws: { path: "./ws" } }, journal: { dir: "./ws/.journal" } })), /journal\.dir .* is inside volumes\.ws/);
  });

  test("a volume mapped onto the config folder (config and lock) is refused", async () => {
    assert.match(await refusal(configIn({ volumes: { ws: { path: "." } } })), /the config folder .* is inside volumes\.ws/);
  });

  test("a volume holding the audit log is refused", async () => {
    assert.match(await refusal(configIn({ volumes: { ws: { path: "./audit" } } })), /the audit log's folder .* is inside volumes\.ws/);
  });

  test("a volume holding the tool folders is refused (a tool could plant an impostor folder)", async () => {
    assert.match(await refusal(configIn({ volumes: { ws: { path: "./tools" } } })), /the folder searched by tools glob .*tools\/\* is inside volumes\.ws/);
  });

  test("sibling volumes, with the journal and audit beside them, load", async () => {
    const loaded = await loadConfigFile(configIn({ volumes: { ws: { path: "./ws" }, "ws-2": { path: "./ws-2" } }, journal: { dir: "./journal" } }));
    assert.deepEqual(Object.keys(loaded.config.volumes), ["ws", "ws-2"]);
  });
});
