/**
 * Set-up of the hosted-MCP-server tests: the fixture server image (a stdlib
 * Python MCP server, test/fixtures/mcp-servers/pyfixture), a workspace whose
 * tool folder hosts it unmodified, and approval through the real CLI.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { buildToolImage } from "../../../sandboxes/docker/images.js";
import type { McpServerSandboxTool } from "../../../sandboxes/executor.js";
import { probeServer } from "../../../sandboxes/mcp-server/index.js";
import { runCli } from "../../../src/cli/main.js";
import { LIMIT_DEFAULTS, type Limits } from "../../../src/manifest/schema.js";
import { pinOf } from "../../../src/policy/pins.js";
import { containerBackendAvailable, docker } from "../container/fixture.js";
import { repoRoot } from "../../helpers/paths.js";
import { makeWorkspace, type Workspace } from "../../helpers/workspace.js";

export const PYFIXTURE_IMAGE = "warden-test/pyfixture:1";
export const FIXTURE_SECRET = "fixture-secret-value-9876";

let built: Promise<true | string> | undefined;

/**
 * For Docker-backed tests: go on when `ready` resolves true; otherwise skip loudly — except under
 * CI=true, where a missing engine or image is a failure, never a skip.
 */
export async function requireReady(t: TestContext, ready: Promise<true | string>, what: string): Promise<boolean> {
  const available = await ready;
  if (available === true) return true;
  if (process.env.CI === "true") throw new Error(`Docker is required in CI (${what}): ${available}`);
  console.error(`\n*** SKIPPING ${what} test "${t.name}": ${available} ***\n`);
  t.skip(`Docker unavailable: ${available}`);
  return false;
}

export function requireServerBackend(t: TestContext): Promise<boolean> {
  return requireReady(t, mcpServerBackendAvailable(), "hosted MCP server");
}

/** The engine, the base image and the fixture server image; or why not. */
export function mcpServerBackendAvailable(): Promise<true | string> {
  built ??= (async () => {
    const base = await containerBackendAvailable();
    if (base !== true) return base;
    await buildToolImage(docker, join(repoRoot(), "test", "fixtures", "mcp-servers", "pyfixture"), PYFIXTURE_IMAGE, () => {});
    return true as const;
  })().catch((err: unknown) => `fixture server image build failed: ${(err as Error).message}`);
  return built;
}

export function fixtureManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "fixture",
    version: "1.0.0",
    description: "The test fixture MCP server, unmodified.",
    runtime: "mcp-server",
    image: PYFIXTURE_IMAGE,
    command: ["python3", "-u", "/app/server.py"],
    toolPrefix: "fx_",
    effect: "write",
    effects: { echo: "read", add: "read", image: "read", audio: "read", resource: "read", mixed: "read", logs: "read", progress: "read" },
    capabilities: {
      filesystem: [
        { volume: "conf", access: "read" },
        { volume: "ws", access: "read-write" },
      ],
      env: ["FIXTURE_SECRET"],
    },
    limits: { timeoutMs: 4000, memoryMb: 128, outputBytes: 100_000 },
    ...extra,
  };
}

/** A workspace with the fixture server as tool "fixture", volumes conf (variant.txt) and ws. */
export function fixtureWorkspace(config: Record<string, unknown> = {}, manifest: Record<string, unknown> = {}): Workspace & { conf: string; ws: string; owner: string } {
  // A unique owner label per workspace: tests running at the same time count only their own containers.
  const owner = `tests-${randomBytes(4).toString("hex")}@example.invalid`;
  const wsp = makeWorkspace({ tools: { fixture: { manifest: fixtureManifest({ owner, ...manifest }), files: {} } }, config: { secrets: { FIXTURE_SECRET: { env: "WARDEN_FIXTURE_SECRET" } }, ...config } });
  const conf = join(wsp.dir, "conf");
  const ws = join(wsp.dir, "ws");
  mkdirSync(conf);
  mkdirSync(ws);
  writeFileSync(join(conf, "variant.txt"), "v1\n");
  // Volumes are added here: the helper's config is written already, so patch it.
  const cfgPath = wsp.configPath;
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, unknown>;
  cfg.volumes = { conf: { path: conf }, ws: { path: ws }, ...((config.volumes as object) ?? {}) };
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  return Object.assign(wsp, { conf, ws, owner });
}

/** `warden approve fixture --yes` through the real CLI; returns what it printed. */
export async function approveFixture(configPath: string, env: Record<string, string> = { WARDEN_FIXTURE_SECRET: FIXTURE_SECRET }): Promise<string> {
  let out = "";
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const code = await runCli(["approve", "fixture", "--yes", "--config", configPath], { stdout: (t) => (out += t), stderr: (t) => (out += t) });
    if (code !== 0) throw new Error(`approve failed (${code}): ${out}`);
    return out;
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
  }
}

/** Containers of one fixture workspace's server (by its unique owner label). */
export async function fixtureContainers(owner: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: ["warden.tool=fixture", `warden.owner=${owner}`] } });
  return list.length;
}

/**
 * A hosted-server unit for tests that drive the mcp-server executor directly (no registry): the fixture
 * server by default, one container per session.
 */
export function serverUnit(name: string, overrides: Partial<Omit<McpServerSandboxTool, "limits">> & { limits?: Partial<Limits> } = {}): McpServerSandboxTool {
  const { limits, ...rest } = overrides;
  return {
    name,
    version: "1.0.0",
    digest: `sha256:${name}`,
    runtime: "mcp-server",
    dir: "/nonexistent",
    image: PYFIXTURE_IMAGE,
    command: ["python3", "-u", "/app/server.py"],
    lifecycle: "session",
    network: false,
    volumes: [],
    ...rest,
    limits: { ...LIMIT_DEFAULTS, timeoutMs: 15_000, memoryMb: 64, outputBytes: 65536, ...limits },
  };
}

/** The MCP server whose tools are the executor contract's kinds (test/fixtures/mcp-servers/contract). */
export const CONTRACT_SERVER_IMAGE = "warden-test/contract-server:1";
export const CONTRACT_SERVER_DIR = join(repoRoot(), "test", "fixtures", "mcp-servers", "contract");

let contractPins: Promise<Map<string, string> | string> | undefined;

/**
 * The contract server's image, built once per process, and its tools' pins (name → sha256 of the canonical
 * definition) read by a probe, as `warden approve` pins them; or why not (no engine, a failed build).
 */
export function contractServerPins(): Promise<Map<string, string> | string> {
  contractPins ??= (async () => {
    const base = await containerBackendAvailable();
    if (base !== true) return base;
    await buildToolImage(docker, CONTRACT_SERVER_DIR, CONTRACT_SERVER_IMAGE, () => {});
    const probe = await probeServer(serverUnit("contract_probe", { image: CONTRACT_SERVER_IMAGE, dir: CONTRACT_SERVER_DIR }), {}, { docker });
    return new Map(probe.definitions.map((d) => [d.name, pinOf(d).sha256]));
  })().catch((err: unknown) => `contract server image or probe failed: ${(err as Error).message}`);
  return contractPins;
}
