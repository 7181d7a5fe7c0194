/** The `container` block's pool bounds (issue 13 §3): floor, per-tool ceiling, total. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfigText } from "../../src/config/load.js";

const parse = (container: unknown) => parseConfigText("/c.json", JSON.stringify({ tools: ["./t/*"], container }));

test("poolSize, poolMax and poolTotal are accepted and kept", () => {
  const defaults = { runtime: "runc", maxHostedServers: 32, maxHostedServersPerIdentity: 8 };
  assert.deepEqual(parse({ poolSize: 2, poolMax: 6, poolTotal: 20 }).config.container, { poolSize: 2, poolMax: 6, poolTotal: 20, ...defaults });
  assert.deepEqual(parse({}).config.container, defaults);
});

test("a poolMax below poolSize is an error naming container.poolMax", () => {
  assert.throws(() => parse({ poolSize: 4, poolMax: 2 }), (err: Error & { code?: string }) => {
    assert.equal(err.code, "E_CONFIG");
    assert.match(err.message, /container\.poolMax/);
    assert.match(err.message, /at least container\.poolSize/);
    return true;
  });
});

test("the pool bounds are bounded: no unbounded idle containers through config", () => {
  assert.throws(() => parse({ poolMax: 65 }), /container\.poolMax/);
  assert.throws(() => parse({ poolTotal: 0 }), /container\.poolTotal/);
  assert.throws(() => parse({ poolTotal: 257 }), /container\.poolTotal/);
});
