import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { canonicalJson } from "../../src/audit/index.js";

describe("canonicalJson", () => {
  test("sorts keys at every depth and has no whitespace", () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: "s" } }), '{"a":{"c":"s","d":[3,{"x":2,"y":1}]},"b":1}');
  });

  test("the same data in a different key order gives the same text", () => {
    assert.equal(canonicalJson({ x: 1, y: [1, 2], z: null }), canonicalJson({ z: null, y: [1, 2], x: 1 }));
  });

  test("parsing the output and serializing again gives the same text (what verify relies on)", () => {
    const value = { n: -0, big: 1e21, tiny: 5e-7, nan: NaN, u: undefined, arr: [undefined, () => 1], d: new Date(0), s: "\u2028\ud800é" };
    const once = canonicalJson(value);
    assert.equal(canonicalJson(JSON.parse(once)), once);
    assert.equal(once, '{"arr":[null,null],"big":1e+21,"d":"1970-01-01T00:00:00.000Z","n":0,"nan":null,"s":"\\u2028\\ud800é","tiny":5e-7}');
  });

  test("a __proto__ key in tool input is kept as data, not used as a prototype", () => {
    const input = JSON.parse('{"__proto__":{"polluted":true},"a":1}');
    assert.equal(canonicalJson(input), '{"__proto__":{"polluted":true},"a":1}');
  });

  test("a circular value or a BigInt is refused with E_AUDIT", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => canonicalJson(cyclic), { code: "E_AUDIT" });
    assert.throws(() => canonicalJson({ n: 1n }), { code: "E_AUDIT" });
  });

  test("a value shared twice (not a cycle) is serialized twice", () => {
    const shared = { k: 1 };
    assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"k":1},"b":{"k":1}}');
  });
});
