// A throw-away operator workspace: tools, warden.config.json, approvals, audit log.
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLIENTS_DIR, REPO_ROOT, runWarden } from "./warden.mjs";

/**
 * word_stats (a real example tool) plus the conformance fixtures: isolate tools named the way
 * the suite's tools-call-* / json-schema scenarios expect, so those scenarios drive warden's
 * real call path (sandbox → output validation → rendering, log and progress forwarding).
 */
const EXAMPLE_TOOLS = ["word_stats"];

/**
 * @param {{ token: string, proxyHost: string }} options  token: the bearer token (only its sha256
 *   goes into the config). proxyHost: the Host the conformance suite will send (the auth proxy's
 *   127.0.0.1:port); warden accepts only Host headers it is configured for, so it is listed in
 *   http.allowedHosts / allowedOrigins, as an operator behind a reverse proxy would.
 */
export async function createWorkspace({ token, proxyHost }) {
  const dir = await mkdtemp(join(tmpdir(), "warden-clients-"));
  const tools = join(dir, "tools");
  await mkdir(tools);
  for (const name of EXAMPLE_TOOLS) {
    await cp(join(REPO_ROOT, "examples", "tools", name), join(tools, name), { recursive: true });
    await relaxTimeout(join(tools, name, "manifest.json"));
  }
  const fixtures = join(CLIENTS_DIR, "fixtures", "tools");
  const fixtureNames = await readdir(fixtures);
  for (const name of fixtureNames) await cp(join(fixtures, name), join(tools, name), { recursive: true });

  const config = {
    tools: ["./tools/*"],
    audit: { file: "./audit.jsonl" },
    http: {
      listen: "127.0.0.1:0",
      tokens: [{ name: "ci", sha256: createHash("sha256").update(token).digest("hex") }],
      allowedHosts: [proxyHost],
      allowedOrigins: [`http://${proxyHost}`],
    },
  };
  const configPath = join(dir, "warden.config.json");
  await writeFile(configPath, JSON.stringify(config, null, 2) + "\n");
  // The stdio servers the Inspector starts get their own audit file: each warden process
  // owns its hash chain (several processes appending to one chain would interleave it).
  // Same folder, so the same warden.lock.json approvals apply.
  const stdioConfigPath = join(dir, "warden.stdio.config.json");
  await writeFile(stdioConfigPath, JSON.stringify({ tools: config.tools, audit: { file: "./audit-stdio.jsonl" } }, null, 2) + "\n");

  const toolNames = [...EXAMPLE_TOOLS, ...fixtureNames];
  // Sequential: approvals share warden.lock.json.
  for (const name of toolNames) await runWarden(["approve", name, "--yes", "--config", configPath]);

  return {
    dir,
    configPath,
    stdioConfigPath,
    token,
    toolNames,
    /** A home for the Inspector so it never reads or writes the real ~/.mcp-inspector. */
    inspectorHome: join(dir, "inspector-home"),
    async remove() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The examples' budgets (word_stats: 2 s) are tight for a 2-core CI box that also runs the
 * Inspector, the suite and a second warden: a cold first call was seen to hit E_TIMEOUT there.
 * These tests are about client interop, not the tool's budget, so the workspace copy gets 10 s.
 */
async function relaxTimeout(manifestPath) {
  const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
  manifest.limits = { ...manifest.limits, timeoutMs: Math.max(manifest.limits?.timeoutMs ?? 0, 10_000) };
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
}
