import assert from "node:assert/strict";
import { test } from "node:test";
import { effectiveFor } from "../../src/capabilities/effective.js";
import { ConfigSchema } from "../../src/config/schema.js";
import { ManifestSchema } from "../../src/manifest/schema.js";

const manifest = ManifestSchema.parse({
  name: "t",
  version: "1.0.0",
  description: "d",
  runtime: "isolate",
  entry: "index.js",
  effect: "read",
  inputSchema: { type: "object" },
  capabilities: {
    network: { allow: ["api.example.com", "*.example.org", "http://legacy.example.com:8080"] },
    filesystem: [{ volume: "docs", access: "read" }],
    env: ["API_KEY"],
  },
});
const config = ConfigSchema.parse({
  tools: ["x"],
  volumes: { docs: { path: "/srv/docs" } },
  secrets: { API_KEY: { env: "WARDEN_SECRET_API_KEY" } },
});

test("without a grant the tool gets what its manifest declares", () => {
  const e = effectiveFor(manifest, undefined, config, "c.json");
  assert.deepEqual(e.capabilities.network.map((n) => n.pattern), ["api.example.com", "*.example.org", "http://legacy.example.com:8080"]);
  assert.equal(e.capabilities.filesystem[0]!.hostPath, "/srv/docs");
  assert.equal(e.effect, "read");
});

test("a grant narrows: a host under a declared wildcard is allowed, with allowPrivate only where written", () => {
  const e = effectiveFor(manifest, { network: [{ host: "api.example.org", allowPrivate: true }], filesystem: [], env: [] }, config, "c.json");
  assert.deepEqual(e.capabilities.network, [{ pattern: "api.example.org", allowPrivate: true }]);
  assert.deepEqual(e.capabilities.filesystem, []);
  assert.deepEqual(e.capabilities.env, []);
});

test("a grant naming an undeclared host is a config error (a grant can only narrow)", () => {
  assert.throws(() => effectiveFor(manifest, { network: ["evil.example"] }, config, "c.json"), { code: "E_CONFIG", message: /not declared/ });
  // the wildcard does not cover its apex, and scheme/port must match
  assert.throws(() => effectiveFor(manifest, { network: ["example.org"] }, config, "c.json"), { code: "E_CONFIG" });
  assert.throws(() => effectiveFor(manifest, { network: ["http://api.example.com"] }, config, "c.json"), { code: "E_CONFIG" });
  assert.throws(() => effectiveFor(manifest, { network: ["legacy.example.com:8080"] }, config, "c.json"), { code: "E_CONFIG" });
});

test("a grant cannot widen volume access or add volumes or secrets", () => {
  assert.throws(() => effectiveFor(manifest, { filesystem: [{ volume: "docs", access: "read-write" }] }, config, "c.json"), { code: "E_CONFIG", message: /wider/ });
  assert.throws(() => effectiveFor(manifest, { filesystem: [{ volume: "other", access: "read" }] }, config, "c.json"), { code: "E_CONFIG" });
  assert.throws(() => effectiveFor(manifest, { env: ["OTHER"] }, config, "c.json"), { code: "E_CONFIG" });
});

test("a declared volume the operator did not map stops startup with the fix", () => {
  const bare = ConfigSchema.parse({ tools: ["x"], secrets: { API_KEY: { env: "E" } } });
  assert.throws(() => effectiveFor(manifest, undefined, bare, "c.json"), { code: "E_CONFIG", message: /volumes\.docs/ });
});

test("the operator may raise the effect, never lower it", () => {
  assert.equal(effectiveFor(manifest, { effect: "destructive" }, config, "c.json").effect, "destructive");
  const rw = ManifestSchema.parse({ ...manifest, effect: "write", capabilities: { filesystem: [{ volume: "docs", access: "read-write" }] } });
  assert.throws(() => effectiveFor(rw, { effect: "read" }, config, "c.json"), { code: "E_CONFIG", message: /never lower/ });
});
