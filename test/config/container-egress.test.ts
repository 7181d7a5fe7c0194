/** `container.egress` (issue 13 §2): where the egress proxy runs, and the addresses refused for every tool. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfigText } from "../../src/config/load.js";

const parse = (container: unknown) => parseConfigText("/c.json", JSON.stringify({ tools: ["./t/*"], container }));

test("container.egress takes a mode, or {mode, refuse}; unset means: chosen by the engine", () => {
  assert.equal(parse({ egress: "container" }).config.container.egress, "container");
  assert.equal(parse({ egress: "host" }).config.container.egress, "host");
  assert.equal(parse({}).config.container.egress, undefined);
  assert.deepEqual(parse({ egress: { refuse: ["203.0.113.7", "2001:db8::/32", "10.0.0.0/8"] } }).config.container.egress, {
    refuse: ["203.0.113.7", "2001:db8::/32", "10.0.0.0/8"],
  });
});

test("an unknown mode, a refused entry that is not an address or CIDR, or an unknown key is an E_CONFIG error", () => {
  for (const egress of ["docker", { mode: "remote" }, { refuse: ["engine.example.com"] }, { refuse: ["10.0.0.0/33"] }, { refuse: ["10.0.0.1/8/1"] }, { mode: "host", extra: 1 }])
    assert.throws(() => parse({ egress }), (err: Error & { code?: string }) => err.code === "E_CONFIG" && /container\.egress/.test(err.message), JSON.stringify(egress));
});
