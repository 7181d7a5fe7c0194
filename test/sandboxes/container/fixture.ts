/**
 * Shared set-up of the container tests: a real Docker engine, the fixture
 * image (built from test/fixtures/container-tools/contract on warden/base:1),
 * and SandboxTool values for it. Without an engine the tests skip loudly —
 * except under CI=true, where they fail.
 */
import Dockerode from "dockerode";
import { join } from "node:path";
import type { TestContext } from "node:test";
import type { ContainerSandboxTool, ExecuteOutcome, Executor, SandboxTool, ToolHost } from "../../../sandboxes/executor.js";
import type { EgressRecord, NetworkGrant } from "../../../src/capabilities/types.js";
import { buildImages, pingEngine } from "../../../sandboxes/docker/index.js";
import { buildToolImage } from "../../../sandboxes/docker/images.js";
import { checkContainerRuntime } from "../../../sandboxes/docker/runtime-check.js";
import { CONTAINER_RUNTIMES, type ContainerRuntime } from "../../../sandboxes/docker/runtime-spec.js";
import { LIMIT_DEFAULTS } from "../../../src/manifest/schema.js";
import { repoRoot } from "../../helpers/paths.js";

export const FIXTURE_IMAGE = "warden-test/contract:1";

export const docker = new Dockerode();

/**
 * The OCI runtime the container suites run under (SPEC §16): WARDEN_TEST_CONTAINER_RUNTIME=runsc runs
 * them under gVisor; .ci/run runs the hardening and egress suites under both. Anything else is an error,
 * so a typo never silently tests runc.
 */
export const TEST_RUNTIME: ContainerRuntime = testRuntime(process.env.WARDEN_TEST_CONTAINER_RUNTIME);

function testRuntime(value: string | undefined): ContainerRuntime {
  if (value === undefined || value === "") return "runc";
  if ((CONTAINER_RUNTIMES as readonly string[]).includes(value)) return value as ContainerRuntime;
  throw new Error(`WARDEN_TEST_CONTAINER_RUNTIME must be one of ${CONTAINER_RUNTIMES.join(", ")}, not ${JSON.stringify(value)}`);
}

let ready: Promise<true | string> | undefined;

/** true when the engine answers and the fixture image is built; otherwise the reason. */
export function containerBackendAvailable(): Promise<true | string> {
  ready ??= (async () => {
    const ping = await pingEngine(docker);
    if (ping !== true) return ping;
    // Under runsc, an engine without it is "unavailable" (a failure under CI=true), never a silent runc run.
    await checkContainerRuntime(TEST_RUNTIME, { docker });
    const quiet = (): void => {};
    await buildImages({ root: repoRoot(), onProgress: quiet, only: [], docker });
    await buildToolImage(docker, join(repoRoot(), "test", "fixtures", "container-tools", "contract"), FIXTURE_IMAGE, quiet);
    return true;
  })().catch((err: unknown) => `fixture image build failed: ${(err as Error).message}`);
  return ready;
}

/** For tests outside the contract suite: skip loudly without Docker, fail under CI. */
export async function requireDocker(t: TestContext): Promise<boolean> {
  const available = await containerBackendAvailable();
  if (available === true) return true;
  if (process.env.CI === "true") throw new Error(`Docker is required in CI: ${available}`);
  console.error(`\n*** SKIPPING container test "${t.name}": ${available} ***\n`);
  t.skip(`Docker unavailable: ${available}`);
  return false;
}

export function fixtureTool(kind: string, overrides: Partial<ContainerSandboxTool> = {}): ContainerSandboxTool {
  return {
    name: `fixture_${kind.replace(/-/g, "_")}`,
    version: "1.0.0",
    digest: `sha256:fixture-${kind}`,
    runtime: "container",
    dir: join(repoRoot(), "test", "fixtures", "container-tools", "contract"),
    image: FIXTURE_IMAGE,
    command: ["python3", "/app/contract.py", kind],
    owner: "tests@example.invalid",
    limits: { ...LIMIT_DEFAULTS, timeoutMs: 60_000, memoryMb: 64, outputBytes: 4096 },
    network: false,
    volumes: [],
    ...overrides,
  };
}

/** A broker stand-in that records the tool's log lines. */
export function recordingHost(): ToolHost & { logs: string[]; progress: ToolHost["progress"]; progressSeen: Array<[number, number | undefined]> } {
  const logs: string[] = [];
  const progressSeen: Array<[number, number | undefined]> = [];
  return {
    logs,
    progressSeen,
    log: (_level, message) => void logs.push(message),
    progress: (done, total) => void progressSeen.push([done, total]),
    fetch: async () => ({ ok: false, error: { code: "E_CAPABILITY_DENIED", message: "containers use the egress proxy" } }),
    fs: async () => ({ ok: false, error: { code: "E_CAPABILITY_DENIED", message: "containers use bind mounts" } }),
    recordEgress: () => {},
  };
}

/**
 * The broker's part, for tests that drive an executor directly: each call carries the tool's network grants
 * (by tool name) and its host records every egress exchange, as src/broker does (request.network,
 * host.recordEgress).
 */
export function withBrokerPolicy(
  inner: Executor,
  grantsOf: (tool: SandboxTool) => NetworkGrant[],
  onEgress: (callId: string, record: EgressRecord) => void = () => {},
): Executor {
  return {
    runtime: inner.runtime,
    prepare: (tool, env) => inner.prepare(tool, env),
    execute: (request) =>
      inner.execute({
        ...request,
        network: grantsOf(request.tool),
        host: { ...request.host, recordEgress: (record) => onEgress(request.callId, record) },
      }),
    close: () => inner.close(),
  };
}

let callSeq = 0;

export function call(
  executor: Executor,
  tool: SandboxTool,
  input: unknown,
  extra: { env?: Record<string, string>; host?: ToolHost; signal?: AbortSignal } = {},
): Promise<ExecuteOutcome> {
  return executor.execute({
    callId: `ctr-test-${process.pid}-${++callSeq}`,
    tool,
    input,
    env: extra.env ?? {},
    host: extra.host ?? recordingHost(),
    signal: extra.signal ?? new AbortController().signal,
  });
}

/** Runs a Python snippet inside a fixture container; the snippet sets `result`. */
export async function probe(
  executor: Executor,
  code: string,
  tool: Partial<ContainerSandboxTool> = {},
  extra: { env?: Record<string, string>; input?: Record<string, unknown> } = {},
): Promise<unknown> {
  const outcome = await call(executor, fixtureTool("probe", tool), { ...extra.input, code }, extra);
  if (!outcome.ok) throw new Error(`probe failed: ${outcome.error.code}: ${outcome.error.message}`);
  return outcome.output;
}

export function assertCode(outcome: ExecuteOutcome, code: string): string {
  if (outcome.ok) throw new Error(`expected ${code}, got success: ${JSON.stringify(outcome.output)}`);
  if (outcome.error.code !== code) throw new Error(`expected ${code}, got ${outcome.error.code}: ${outcome.error.message}`);
  return outcome.error.message;
}

export { repoRoot };
