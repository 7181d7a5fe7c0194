/**
 * Issue #19 item 1 (time of check ≠ time of use): the code an isolate runs is
 * exactly the bytes the digest was computed over. The review renamed another
 * marker.js over the approved one between the digest read and the worker load;
 * here the swap happens deterministically right after the registry hashed the
 * folder and before the first prepare/call, i.e. in the old race window.
 */
import assert from "node:assert/strict";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import { loadRegistry } from "../../../src/broker/registry.js";
import { loadConfigFile } from "../../../src/config/load.js";
import { computeToolDigest } from "../../../src/manifest/index.js";
import { isolateManifest, makeWorkspace } from "../../helpers/workspace.js";
import { recordingHost } from "./tool-in-temp-dir.js";

const APPROVED = `import { marker } from "./marker.js"; export default async function run() { return { marker }; }`;

describe("an isolate runs the bytes that were hashed, not what is on disk later", () => {
  let executor: IsolateExecutor;
  before(async () => {
    executor = createIsolateExecutor({ workers: 1 });
    await executor.ready();
  });
  after(() => executor.close());

  for (const when of ["prepare", "first call"] as const) {
    test(`a module renamed over the approved one after hashing does not run (swap before ${when})`, async () => {
      const ws = makeWorkspace({ tools: { marker: { manifest: isolateManifest(`marker_${when === "prepare" ? "p" : "c"}`), files: { "index.js": APPROVED, "marker.js": `export const marker = "approved";` } } } });
      const registry = await loadRegistry(await loadConfigFile(ws.configPath));
      const tool = [...registry.tools.values()][0]!.sandbox;
      const dir = ws.toolDir("marker");
      // The attacker's swap, as the review's inotify watcher did it: an atomic rename over the hashed file.
      writeFileSync(join(dir, "evil.js"), `export const marker = "attacker";`);
      renameSync(join(dir, "evil.js"), join(dir, "marker.js"));
      assert.notEqual((await computeToolDigest(dir)).digest, tool.digest, "the folder on disk no longer matches the approved digest");
      if (when === "prepare") await executor.prepare(tool);
      const outcome = await executor.execute({ callId: `toctou-${when}`, tool, input: {}, env: {}, host: recordingHost(), signal: new AbortController().signal });
      assert.deepEqual(outcome, { ok: true, output: { marker: "approved" }, outputBytes: '{"marker":"approved"}'.length });
    });
  }
});
