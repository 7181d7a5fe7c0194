#!/usr/bin/env node
// Drives the real mcp-warden server with clients nobody here wrote (issue 8, part 3):
//   1. MCP Inspector CLI — tools/list and tools/call over stdio and over Streamable HTTP with a
//      bearer header; HTTP without the header / with a wrong token must fail.
//   2. The official MCP conformance suite — every server scenario, through a loopback proxy that
//      adds the bearer token (the suite has no auth option; warden has no mode without auth).
// Plus raw probes straight at warden (token, Host, Origin) and the audit log afterwards.
// Prints a summary table; exits 1 if any required check fails. Traffic stays on 127.0.0.1.
//
// Env: WARDEN_MAIN  built CLI entry, relative to the repo root (default dist/src/cli/main.js)
//      WARDEN_NODE  Node that runs warden (default the repo's node_modules/.bin/node)
//      KEEP_WORKSPACE=1  keep the temp workspace (config, audit logs, suite results) for debugging
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runAuditChecks } from "./lib/audit-checks.mjs";
import { startAuthProxy } from "./lib/auth-proxy.mjs";
import { failureSummary, runConformance } from "./lib/conformance.mjs";
import { runDirectChecks } from "./lib/direct-checks.mjs";
import { judgeScenario, SCENARIOS } from "./lib/expectations.mjs";
import { runInspectorChecks } from "./lib/inspector.mjs";
import { conformancePackage, inspectorPackage } from "./lib/packages.mjs";
import { printSummary } from "./lib/report.mjs";
import { startWardenHttp, wardenCommand } from "./lib/warden.mjs";
import { createWorkspace } from "./lib/workspace.mjs";
import { runHostedScenarios } from "./lib/hosted.mjs";

/** @type {Array<{ group: string, name: string, ok: boolean, verdict?: string, detail: string }>} */
const results = [];
const record = (group, list) => results.push(...list.map((r) => ({ group, ...r })));
const started = Date.now();
let lap = started;
/** Phase timings, so a slow CI run shows where the time went. */
function phase(what) {
  const now = Date.now();
  console.log(`  ${what}: ${((now - lap) / 1000).toFixed(1)} s`);
  lap = now;
}

const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(`test-clients: the Inspector and the conformance suite need Node >= 22, this is ${process.version}; run with the repo's Node (node_modules/.bin on PATH)`);
  process.exit(2);
}
const { main, node } = wardenCommand();
if (!existsSync(main)) {
  console.error(`test-clients: ${main} does not exist; build first (npm run build) or set WARDEN_MAIN to the built src/cli/main.js`);
  process.exit(2);
}
console.log(`warden: ${node} ${main}`);
console.log(`clients: ${inspectorPackage().name}@${inspectorPackage().version}, ${conformancePackage().name}@${conformancePackage().version}`);

// Ctrl-C / SIGTERM: exit through process "exit", where the warden child is killed.
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));

const token = randomBytes(32).toString("hex");
const proxy = await startAuthProxy({ token });
let workspace;
let warden;
let conformanceVersion = conformancePackage().version;
try {
  workspace = await createWorkspace({ token, proxyHost: `127.0.0.1:${proxy.port}` });
  console.log(`workspace: ${workspace.dir} (${workspace.toolNames.length} tools approved)`);
  phase("workspace + approvals");
  try {
    warden = await startWardenHttp(workspace.configPath);
    proxy.setTarget(warden.port);
    console.log(`warden: ${warden.url}; auth proxy for the suite: ${proxy.url}`);
    phase("warden serve --http up");
  } catch (err) {
    record("warden", [{ name: "serve --http starts and logs its URL", ok: false, detail: err.message }]);
  }

  if (warden) record("direct", await runDirectChecks({ port: warden.port, token }));
  const httpUrl = warden?.url ?? "http://127.0.0.1:9/mcp"; // stdio checks still run if HTTP is down
  record("inspector", await runInspectorChecks({ workspace, httpUrl }));
  phase("direct probes + Inspector CLI");

  if (warden) {
    const suite = await runConformance({ url: proxy.url, outDir: join(workspace.dir, "conformance") });
    conformanceVersion = suite.version;
    if (suite.timedOut) record("conformance", [{ name: "suite finished", ok: false, detail: "timed out after 300 s" }]);
    const names = [...new Set([...Object.keys(SCENARIOS), ...suite.scenarios.keys()])].sort(bySection);
    record(
      "conformance",
      names.map((name) => {
        const outcome = suite.scenarios.get(name) ?? { status: "NOT RUN", checks: [] };
        const judged =
          outcome.status === "NOT RUN"
            ? { ok: false, verdict: "NOT RUN", detail: "listed in lib/expectations.mjs but not in this suite version" }
            : judgeScenario(name, outcome, failureSummary);
        return { name, ...judged };
      }),
    );
    phase("conformance suite");
    await warden.stop(); // flush the audit log before reading it
    warden = undefined;
    record("audit", await runAuditChecks(workspace));
    phase("audit checks");
    record("hosted", await runHostedScenarios({ proxy, token, proxyHost: `127.0.0.1:${proxy.port}` }));
    phase("conformance tool scenarios through a hosted MCP server");
  }
} catch (err) {
  record("run", [{ name: "harness", ok: false, detail: err.stack ?? String(err) }]);
} finally {
  await warden?.stop();
  await proxy.close();
  if (workspace && !process.env.KEEP_WORKSPACE) await workspace.remove();
}

const failed = printSummary(results, { conformanceVersion, seconds: (Date.now() - started) / 1000 });
process.exit(failed > 0 ? 1 : 0);

/** Required scenarios first, then warnings, then the expected failures; alphabetical within. */
function bySection(a, b) {
  const rank = (n) => ({ pass: 0, warn: 1, "expected-fail": 2 })[SCENARIOS[n]?.expect] ?? -1;
  return rank(a) - rank(b) || a.localeCompare(b);
}
