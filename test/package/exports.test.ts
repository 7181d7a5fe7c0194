import assert from "node:assert/strict";
import { test } from "node:test";

test('the package entry points resolve: "mcp-warden" and "mcp-warden/tool"', async () => {
  // Self-reference through package.json "exports", as a dependent project would import it.
  const main = (await import("mcp-warden" as string)) as typeof import("../../src/index.js");
  assert.ok(main.ERROR_CODES.includes("E_NOT_APPROVED"));
  assert.equal(typeof main.ManifestSchema.safeParse, "function");
  assert.deepEqual([...main.RUNTIMES], ["isolate", "container", "mcp-server"]);
  await import("mcp-warden/tool" as string);
});
