import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfigText } from "../../src/config/load.js";

test("an unknown key is an error naming the file, the JSON path and the fix", () => {
  assert.throws(() => parseConfigText("/etc/w.json", JSON.stringify({ tools: ["./t/*"], grantz: {} })), (err: Error & { code?: string }) => {
    assert.equal(err.code, "E_CONFIG");
    assert.match(err.message, /\/etc\/w\.json/);
    assert.match(err.message, /grantz/);
    assert.match(err.message, /fix: remove/);
    return true;
  });
});

test("a wrong type deep inside names its JSON path", () => {
  assert.throws(
    () => parseConfigText("/c.json", JSON.stringify({ tools: ["x"], grants: { t: { network: [5] } } })),
    /grants\.t\.network\[0\]/,
  );
});

test("invalid JSON is reported as such", () => {
  assert.throws(() => parseConfigText("/c.json", "{tools:"), /not valid JSON/);
});

test("relative paths resolve against the config file's folder", () => {
  const { config } = parseConfigText("/srv/w/warden.config.json", JSON.stringify({ tools: ["./tools/*"], volumes: { ws: { path: "data" } }, audit: { file: "a.jsonl" } }));
  assert.deepEqual(config.tools, ["/srv/w/tools/*"]);
  assert.equal(config.volumes.ws!.path, "/srv/w/data");
  assert.equal(config.audit.file, "/srv/w/a.jsonl");
});
