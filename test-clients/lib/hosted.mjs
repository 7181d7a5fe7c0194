// The conformance suite's tool scenarios through warden's hosted-server path (SPEC §15): a stdio
// MCP server (fixtures/servers/conformance, unmodified, in its own container) hosted by a second
// warden, with toolPrefix "" so the suite finds its tool names. These scenarios must pass here;
// against the isolate-only warden the content-block ones are expected failures (an isolate tool
// returns JSON only).
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capture } from "./exec.mjs";
import { runConformance } from "./conformance.mjs";
import { CLIENTS_DIR, runWarden, startWardenHttp } from "./warden.mjs";

export const HOSTED_SCENARIOS = [
  "tools-call-image",
  "tools-call-audio",
  "tools-call-embedded-resource",
  "tools-call-mixed-content",
  "tools-call-with-logging",
  "tools-call-with-progress",
  "tools-call-error",
];
const IMAGE = "warden-test/conformance-server:1";

/** @returns {Promise<Array<{ name: string, ok: boolean, verdict?: string, detail: string }>>} */
export async function runHostedScenarios({ proxy, token, proxyHost }) {
  const dockerOk = (await capture("docker", ["info"], { timeoutMs: 15_000 })).code === 0;
  if (!dockerOk) {
    if (process.env.CI === "true") return [{ name: "hosted server scenarios", ok: false, detail: "Docker is required in CI (docker info failed)" }];
    console.error("\n*** SKIPPING hosted-server conformance scenarios: no Docker engine ***\n");
    return [{ name: "hosted server scenarios", ok: true, verdict: "skipped", detail: "no Docker engine (not CI)" }];
  }
  const fixture = join(CLIENTS_DIR, "fixtures", "servers", "conformance");
  const build = await capture("docker", ["build", "-q", "--pull=false", "-t", IMAGE, fixture], { timeoutMs: 180_000 });
  if (build.code !== 0) return [{ name: "hosted fixture image builds", ok: false, detail: build.stderr.slice(-500) }];
  const dir = await mkdtemp(join(tmpdir(), "warden-hosted-"));
  let warden;
  try {
    await mkdir(join(dir, "tools"));
    await cp(fixture, join(dir, "tools", "conformance_server"), { recursive: true });
    const configPath = join(dir, "warden.config.json");
    await writeFile(
      configPath,
      JSON.stringify({
        tools: ["./tools/*"],
        audit: { file: "./audit.jsonl" },
        http: { listen: "127.0.0.1:0", tokens: [{ name: "ci", sha256: createHash("sha256").update(token).digest("hex") }], allowedHosts: [proxyHost], allowedOrigins: [`http://${proxyHost}`] },
      }),
    );
    await runWarden(["approve", "conformance_server", "--yes", "--config", configPath], { timeoutMs: 120_000 });
    warden = await startWardenHttp(configPath);
    proxy.setTarget(warden.port);
    const results = [];
    for (const scenario of HOSTED_SCENARIOS) {
      const out = join(dir, "conformance", scenario);
      const suite = await runConformance({ url: proxy.url, outDir: out, scenario });
      const outcome = suite.scenarios.get(scenario);
      const ok = outcome?.status === "SUCCESS";
      results.push({ name: `${scenario} (hosted server)`, ok, detail: ok ? "pass through the hosted-server path" : `${outcome?.status ?? "NOT RUN"}: ${JSON.stringify(outcome?.checks?.filter((c) => c.status !== "SUCCESS" && c.status !== "INFO").map((c) => c.errorMessage)).slice(0, 300)}` });
    }
    return results;
  } catch (err) {
    return [{ name: "hosted server scenarios", ok: false, detail: String(err?.stack ?? err).slice(0, 800) }];
  } finally {
    await warden?.stop();
    if (!process.env.KEEP_WORKSPACE) await rm(dir, { recursive: true, force: true });
  }
}
