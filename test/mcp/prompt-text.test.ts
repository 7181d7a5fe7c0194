import assert from "node:assert/strict";
import { test } from "node:test";
import { escapeForHuman } from "../../src/mcp/prompt-text.js";

test("escapeForHuman shows every reordering or invisible character as its escape and keeps newlines", () => {
  const text = "a\u202Eb\u2066c\u2069d\u200Be\u200Ff\uFEFFg\u{E0041}h\u0007i\u2028j\nk\tl";
  assert.equal(escapeForHuman(text), "a\\u202Eb\\u2066c\\u2069d\\u200Be\\u200Ff\\uFEFFg\\u{E0041}h\\u0007i\\u2028j\nk\tl");
  assert.equal(escapeForHuman("plain — ünïcödé 日本"), "plain — ünïcödé 日本");
});
