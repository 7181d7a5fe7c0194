// The summary table printed at the end of a run. Expected failures are listed with their
// reason in full — they are explained, never hidden.

/**
 * @param {Array<{ group: string, name: string, ok: boolean, verdict?: string, detail: string }>} results
 * @returns {number} how many required checks failed
 */
export function printSummary(results, { conformanceVersion, seconds }) {
  const rows = results.map((r) => [r.group, r.name, r.verdict ?? (r.ok ? "pass" : "FAIL"), r.ok ? "" : "<<"]);
  const width = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length), 5));
  const line = (cells) => cells.map((c, i) => (i < 3 ? c.padEnd(width[i]) : c)).join("  ").trimEnd();
  console.log(`\n=== mcp-warden with real clients (conformance suite ${conformanceVersion}) ===`);
  console.log(line(["group", "check / scenario", "result", ""]));
  console.log(line(width.map((w) => "-".repeat(w)).concat("")));
  for (const row of rows) console.log(line(row));

  const explained = results.filter((r) => r.ok && r.detail && r.verdict && r.verdict !== "pass");
  if (explained.length) {
    console.log("\nNot a clean pass, and why (expected-fail: by design; known-issue: a third-party client's behaviour):");
    for (const r of explained) console.log(`  ${r.name} — ${r.verdict}: ${r.detail}`);
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length) {
    console.log("\nFAILED:");
    for (const r of failed) console.log(`  [${r.group}] ${r.name}: ${r.detail}`);
  }
  const count = (pred) => results.filter(pred).length;
  console.log(
    `\n${count((r) => r.ok && (r.verdict ?? "pass").startsWith("pass"))} passed, ${count((r) => r.verdict === "expected-fail")} expected-fail, ` +
      `${count((r) => r.ok && (r.verdict ?? "").startsWith("known-issue"))} known-issue, ` +
      `${failed.length} failed — ${seconds.toFixed(1)} s`,
  );
  return failed.length;
}
