// The verdict rules: a scenario is only "expected-fail" when it fails the documented way;
// everything else that is not a pass fails the run.
import assert from "node:assert/strict";
import { test } from "node:test";
import { failureSummary } from "../lib/conformance.mjs";
import { judgeScenario, SCENARIOS } from "../lib/expectations.mjs";

const judge = (name, status, checks = []) => judgeScenario(name, { status, checks }, failureSummary);
const failing = (errorMessage) => [{ id: "x", status: "FAILURE", errorMessage }];

test("required scenarios must be SUCCESS", () => {
  assert.equal(judge("ping", "SUCCESS").ok, true);
  assert.equal(judge("ping", "WARNING", [{ id: "p", status: "WARNING" }]).ok, false);
  assert.equal(judge("ping", "FAILURE", failing("boom")).ok, false);
});

test("expected-fail only when failing the documented way", () => {
  assert.deepEqual(judge("prompts-list", "FAILURE", failing("Failed: MCP error -32601: Method not found")).verdict, "expected-fail");
  const otherWay = judge("prompts-list", "FAILURE", failing("Failed: fetch failed (ECONNREFUSED)"));
  assert.equal(otherWay.ok, false);
  assert.match(otherWay.verdict, /not the expected way/);
  assert.equal(judge("tools-call-image", "FAILURE", failing('MCP error -32602: unknown tool "test_image_content"')).ok, true);
  assert.equal(judge("tools-call-image", "FAILURE", failing('MCP error -32602: unknown tool "test_audio_content"')).ok, false);
});

test("an expected failure that starts passing fails the run (docs must be updated)", () => {
  const r = judge("resources-list", "SUCCESS");
  assert.equal(r.ok, false);
  assert.equal(r.verdict, "UNEXPECTED PASS");
});

test("a scenario nobody classified fails the run", () => {
  assert.equal(judge("some-new-scenario", "SUCCESS").ok, false);
  assert.equal(judge("some-new-scenario", "SUCCESS").verdict, "UNCLASSIFIED");
});

test("warnings are allowed only where the table says so, failures never", () => {
  assert.equal(judge("server-sse-polling", "WARNING", [{ id: "w", status: "WARNING" }]).ok, true);
  assert.equal(judge("server-sse-polling", "FAILURE", failing("x")).ok, false);
});

test("dns-rebinding-protection counts only if warden itself refused the rebinding Host", () => {
  const checks = (body) => [
    { id: "localhost-host-rebinding-rejected", status: "SUCCESS", details: { statusCode: 403, body } },
    { id: "localhost-host-valid-accepted", status: "SUCCESS", details: { statusCode: 200 } },
  ];
  assert.equal(judge("dns-rebinding-protection", "SUCCESS", checks({ error: "forbidden host header" })).ok, true);
  assert.equal(judge("dns-rebinding-protection", "SUCCESS", checks({ error: "a valid bearer token is required" })).ok, false);
});

test("every expected-fail has a reason and a failure pattern", () => {
  for (const [name, rule] of Object.entries(SCENARIOS)) {
    if (rule.expect !== "expected-fail") continue;
    assert.ok(rule.because && rule.because.length > 40, `${name}: reason`);
    assert.ok(rule.failsWith instanceof RegExp, `${name}: failsWith`);
  }
});
