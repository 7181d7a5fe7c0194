// What we expect of each server scenario of @modelcontextprotocol/conformance (pinned 0.1.16).
//
// "pass": must be SUCCESS, or the run fails.
// "warn": SUCCESS or WARNING (the suite's SHOULD-level advice) — a FAILURE fails the run.
// "expected-fail": the scenario needs a feature warden deliberately does not have. It must fail
//   with the error named in `failsWith` (so a crash or a new bug is never filed under "by
//   design"), and if it ever passes the run fails too: update this table and docs/conformance.md.
// A scenario missing from this table (a new suite version) fails the run until it is classified.

const NO_PROMPTS = "warden exposes tools only (SPEC §8): it advertises no `prompts` capability, so prompts/* is answered -32601 Method not found, as MCP requires for an unadvertised capability";
const NO_RESOURCES = "warden exposes tools only (SPEC §8): it advertises no `resources` capability, so resources/* is answered -32601 Method not found, as MCP requires for an unadvertised capability";
const NO_CONTENT_BLOCKS =
  "in this (isolate-only) run: an isolate tool's result is JSON validated against its outputSchema, rendered as structuredContent + a JSON text block (SPEC §8), so the fixture tool cannot be written here (unknown tool); the same scenario must pass through a hosted MCP server (group \"hosted\")";
const NO_TOOL_ELICITATION =
  "an untrusted tool may not put its own questions in front of the human: warden uses elicitation only for its own per-call confirmation (SPEC §8) and the tool ctx has no elicit(), so the suite's fixture tool cannot be written (unknown tool)";
const METHOD_NOT_FOUND = /Method not found/;
const unknownTool = (name) => new RegExp(`unknown tool "${name}"`);

/** @type {Record<string, { expect: "pass" | "warn" | "expected-fail", because?: string, failsWith?: RegExp, verify?: (checks: any[]) => boolean, verifyWhat?: string }>} */
export const SCENARIOS = {
  "server-initialize": { expect: "pass" },
  ping: { expect: "pass" },
  "tools-list": { expect: "pass" },
  "logging-set-level": { expect: "pass" },
  "dns-rebinding-protection": {
    expect: "pass",
    // The auth proxy forwards Host/Origin unchanged; make sure the 4xx really is warden's own
    // Host check and not something in between.
    verify: (checks) => checks.find((c) => c.id === "localhost-host-rebinding-rejected")?.details?.body?.error === "forbidden host header",
    verifyWhat: "the rebinding request must be refused by warden itself (403 {\"error\": \"forbidden host header\"})",
  },
  "tools-call-simple-text": { expect: "pass" },
  "tools-call-error": { expect: "pass" },
  "tools-call-with-logging": { expect: "pass" },
  "tools-call-with-progress": { expect: "pass" },
  "json-schema-2020-12": { expect: "pass" },
  "server-sse-multiple-streams": { expect: "pass" },
  "server-sse-polling": {
    expect: "warn",
    because:
      "SHOULD-level warnings (no SSE priming event / retry field): warden runs the SDK transport without an event store, so a POST stream is not resumable — a dropped stream is a client disconnect, which stops the sandbox at once (SPEC §8). There is no test_reconnection tool (it needs the server to cut its own stream mid-call).",
  },
  "completion-complete": {
    expect: "expected-fail",
    because: "no prompts or resource templates, hence nothing to complete: warden advertises no `completions` capability and answers completion/complete with -32601 Method not found",
    failsWith: METHOD_NOT_FOUND,
  },
  "prompts-list": { expect: "expected-fail", because: NO_PROMPTS, failsWith: METHOD_NOT_FOUND },
  "prompts-get-simple": { expect: "expected-fail", because: NO_PROMPTS, failsWith: METHOD_NOT_FOUND },
  "prompts-get-with-args": { expect: "expected-fail", because: NO_PROMPTS, failsWith: METHOD_NOT_FOUND },
  "prompts-get-embedded-resource": { expect: "expected-fail", because: NO_PROMPTS, failsWith: METHOD_NOT_FOUND },
  "prompts-get-with-image": { expect: "expected-fail", because: NO_PROMPTS, failsWith: METHOD_NOT_FOUND },
  "resources-list": { expect: "expected-fail", because: NO_RESOURCES, failsWith: METHOD_NOT_FOUND },
  "resources-read-text": { expect: "expected-fail", because: NO_RESOURCES, failsWith: METHOD_NOT_FOUND },
  "resources-read-binary": { expect: "expected-fail", because: NO_RESOURCES, failsWith: METHOD_NOT_FOUND },
  "resources-templates-read": { expect: "expected-fail", because: NO_RESOURCES, failsWith: METHOD_NOT_FOUND },
  "resources-subscribe": { expect: "expected-fail", because: NO_RESOURCES, failsWith: METHOD_NOT_FOUND },
  "resources-unsubscribe": { expect: "expected-fail", because: NO_RESOURCES, failsWith: METHOD_NOT_FOUND },
  "tools-call-image": { expect: "expected-fail", because: NO_CONTENT_BLOCKS, failsWith: unknownTool("test_image_content") },
  "tools-call-audio": { expect: "expected-fail", because: NO_CONTENT_BLOCKS, failsWith: unknownTool("test_audio_content") },
  "tools-call-embedded-resource": { expect: "expected-fail", because: NO_CONTENT_BLOCKS, failsWith: unknownTool("test_embedded_resource") },
  "tools-call-mixed-content": { expect: "expected-fail", because: NO_CONTENT_BLOCKS, failsWith: unknownTool("test_multiple_content_types") },
  "tools-call-sampling": {
    expect: "expected-fail",
    because:
      "an untrusted tool may not drive the client's LLM: the tool ctx has no sampling (SPEC §3), so the suite's test_sampling tool cannot be written (unknown tool)",
    failsWith: unknownTool("test_sampling"),
  },
  "tools-call-elicitation": { expect: "expected-fail", because: NO_TOOL_ELICITATION, failsWith: unknownTool("test_elicitation") },
  "elicitation-sep1034-defaults": { expect: "expected-fail", because: NO_TOOL_ELICITATION, failsWith: unknownTool("test_elicitation_sep1034_defaults") },
  "elicitation-sep1330-enums": { expect: "expected-fail", because: NO_TOOL_ELICITATION, failsWith: unknownTool("test_elicitation_sep1330_enums") },
};

/**
 * @param {string} name
 * @param {{ status: string, checks: any[] }} outcome
 * @returns {{ ok: boolean, verdict: string, detail: string }}
 */
export function judgeScenario(name, outcome, summarize) {
  const rule = SCENARIOS[name];
  const { status } = outcome;
  if (!rule) return { ok: false, verdict: "UNCLASSIFIED", detail: `${status}: not in lib/expectations.mjs; classify it (${summarize(outcome.checks)})` };
  if (rule.expect === "pass") {
    if (status === "SUCCESS" && rule.verify && !rule.verify(outcome.checks)) return { ok: false, verdict: "FAIL (suite passed, check did not)", detail: rule.verifyWhat ?? "" };
    return status === "SUCCESS" ? { ok: true, verdict: "pass", detail: "" } : { ok: false, verdict: `FAIL (${status})`, detail: summarize(outcome.checks) };
  }
  if (rule.expect === "warn") {
    if (status === "SUCCESS") return { ok: true, verdict: "pass", detail: "" };
    if (status === "WARNING") return { ok: true, verdict: "pass with warnings", detail: rule.because ?? "" };
    return { ok: false, verdict: `FAIL (${status})`, detail: summarize(outcome.checks) };
  }
  if (status === "SUCCESS") return { ok: false, verdict: "UNEXPECTED PASS", detail: "update lib/expectations.mjs and docs/conformance.md" };
  const messages = outcome.checks.map((c) => c.errorMessage ?? "").join("\n");
  if (!rule.failsWith.test(messages)) {
    return { ok: false, verdict: `FAIL (${status}, not the expected way)`, detail: `expected ${rule.failsWith}; got: ${summarize(outcome.checks)}` };
  }
  return { ok: true, verdict: "expected-fail", detail: rule.because ?? "" };
}
