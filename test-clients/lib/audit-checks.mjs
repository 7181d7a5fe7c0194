// After the foreign clients are done: every call they made is in warden's audit log under
// the right actor, and `warden audit verify` accepts the whole hash chain (SPEC §10).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runWarden } from "./warden.mjs";

async function records(file) {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

async function verify(configPath) {
  try {
    const { stdout } = await runWarden(["audit", "verify", "--config", configPath]);
    return { ok: true, detail: stdout.trim() };
  } catch (err) {
    return { ok: false, detail: err.message };
  }
}

/** @returns {Promise<Array<{ name: string, ok: boolean, detail: string }>>} */
export async function runAuditChecks(workspace) {
  const http = await records(join(workspace.dir, "audit.jsonl"));
  const stdio = await records(join(workspace.dir, "audit-stdio.jsonl"));
  const has = (list, actor, tool, outcome) => list.some((r) => r.actor === actor && r.tool === tool && r.outcome === outcome);
  const coded = (list, actor, tool, code) => list.some((r) => r.actor === actor && r.tool === tool && r.errorCode === code);
  const httpOk =
    has(http, "ci", "word_stats", "ok") && coded(http, "ci", "word_stats", "E_INPUT_INVALID") && has(http, "ci", "test_simple_text", "ok") && coded(http, "ci", "test_error_handling", "E_TOOL_FAILED");
  const stdioOk = has(stdio, "stdio", "word_stats", "ok") && coded(stdio, "stdio", "test_error_handling", "E_TOOL_FAILED");
  const httpChain = await verify(workspace.configPath);
  const stdioChain = await verify(workspace.stdioConfigPath);
  return [
    {
      name: "HTTP calls (Inspector + suite) audited as actor \"ci\"",
      ok: httpOk,
      detail: `${http.length} records${httpOk ? "" : ": missing word_stats ok / word_stats E_INPUT_INVALID / test_simple_text ok / test_error_handling E_TOOL_FAILED"}`,
    },
    { name: "stdio calls (Inspector) audited as actor \"stdio\"", ok: stdioOk, detail: `${stdio.length} records${stdioOk ? "" : ": missing word_stats ok / test_error_handling E_TOOL_FAILED"}` },
    { name: "warden audit verify: HTTP server's chain", ...httpChain },
    { name: "warden audit verify: stdio servers' chain", ...stdioChain },
  ];
}
