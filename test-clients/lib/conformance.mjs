// The official MCP conformance suite (@modelcontextprotocol/conformance, `conformance server`)
// run against warden through the loopback auth proxy. Every server scenario of the installed
// suite version runs (`--suite all`, so pending ones too); expectations.mjs says which must pass.
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { capture } from "./exec.mjs";
import { conformancePackage } from "./packages.mjs";

/**
 * @returns {Promise<{ version: string, scenarios: Map<string, { status: "SUCCESS" | "WARNING" | "FAILURE" | "MISSING", checks: any[] }>, log: string }>}
 */
export async function runConformance({ url, outDir, scenario }) {
  const { bin, version } = conformancePackage();
  await mkdir(outDir, { recursive: true });
  const listed = await capture(process.execPath, [bin, "list", "--server"]);
  const names = [...listed.stdout.matchAll(/^\s+- ([a-z0-9-]+)/gm)].map((m) => m[1]);
  const which = scenario ? ["--scenario", scenario] : ["--suite", "all"];
  const run = await capture(process.execPath, [bin, "server", "--url", url, ...which, "-o", outDir], { timeoutMs: 300_000 });

  const byScenario = new Map();
  for (const entry of await readdir(outDir)) {
    // <outDir>/server-<scenario>-<ISO timestamp with : and . replaced>/checks.json
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
    if (!m) continue;
    const checks = JSON.parse(await readFile(join(outDir, entry, "checks.json"), "utf8"));
    byScenario.set(m[1], { status: overall(checks), checks });
  }
  for (const name of scenario ? [scenario] : names) {
    // The suite writes no checks.json when a scenario itself throws; that is a failure.
    if (!byScenario.has(name)) byScenario.set(name, { status: "MISSING", checks: [] });
  }
  return { version, scenarios: byScenario, log: run.stdout + run.stderr, timedOut: run.timedOut };
}

function overall(checks) {
  if (checks.some((c) => c.status === "FAILURE")) return "FAILURE";
  if (checks.some((c) => c.status === "WARNING")) return "WARNING";
  return "SUCCESS";
}

/** One line saying why a scenario did not pass: the suite's own failure messages. */
export function failureSummary(checks) {
  const bad = checks.filter((c) => c.status === "FAILURE" || c.status === "WARNING");
  return bad.map((c) => `${c.id}: ${c.errorMessage ?? c.status}`).join("; ").slice(0, 300) || "no checks recorded (scenario crashed)";
}
