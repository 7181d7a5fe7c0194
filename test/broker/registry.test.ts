import assert from "node:assert/strict";
import { test } from "node:test";
import { loadRegistry } from "../../src/broker/registry.js";
import { loadConfigFile } from "../../src/config/load.js";
import { isolateManifest, makeWorkspace } from "../helpers/workspace.js";

const tool = (name: string, extra: Record<string, unknown> = {}) => ({
  manifest: isolateManifest(name, extra),
  files: { "index.js": "export default async function run() { return {}; }\n" },
});

test("the operator's ceiling caps every tool's limits", async () => {
  const ws = makeWorkspace({ tools: { big: tool("big", { limits: { timeoutMs: 60000, memoryMb: 1024, outputBytes: 1000000 } }) }, config: { ceiling: { timeoutMs: 5000, memoryMb: 128 } } });
  const reg = await loadRegistry(await loadConfigFile(ws.configPath));
  const limits = reg.tools.get("big")!.limits;
  assert.equal(limits.timeoutMs, 5000);
  assert.equal(limits.memoryMb, 128);
  assert.equal(limits.outputBytes, 1000000);
});

test("a grant for a tool that does not exist stops startup", async () => {
  const ws = makeWorkspace({ tools: { a: tool("a") }, config: { grants: { ghost: {} } } });
  await assert.rejects(loadRegistry(await loadConfigFile(ws.configPath)), { code: "E_CONFIG", message: /grants\.ghost/ });
});

test("two tool folders with the same name stop startup", async () => {
  const ws = makeWorkspace({ tools: { a: tool("same"), b: tool("same") } });
  await assert.rejects(loadRegistry(await loadConfigFile(ws.configPath)), { code: "E_CONFIG", message: /two tool folders/ });
});

test("a granted secret whose environment variable is missing stops startup, naming the variable and never a value", async () => {
  const ws = makeWorkspace({ tools: { k: tool("k", { capabilities: { env: ["KEY"] } }) }, config: { secrets: { KEY: { env: "WARDEN_TEST_MISSING_VAR" } } } });
  await assert.rejects(loadRegistry(await loadConfigFile(ws.configPath), {}), { code: "E_CONFIG", message: /WARDEN_TEST_MISSING_VAR is not set/ });
  const reg = await loadRegistry(await loadConfigFile(ws.configPath), { WARDEN_TEST_MISSING_VAR: "value-1234" });
  assert.deepEqual(reg.tools.get("k")!.secrets, { KEY: "value-1234" });
  assert.deepEqual(reg.allSecretValues, ["value-1234"]);
});

test("a broken manifest stops startup listing its problems", async () => {
  const ws = makeWorkspace({ tools: { bad: { manifest: { ...isolateManifest("bad"), surprise: true }, files: { "index.js": "" } } } });
  await assert.rejects(loadRegistry(await loadConfigFile(ws.configPath)), { code: "E_MANIFEST", message: /surprise/ });
});
