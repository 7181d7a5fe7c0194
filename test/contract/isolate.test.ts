/** The executor contract, run against the isolate backend with the tools in test/fixtures/isolate-tools/. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type IsolateExecutor, createIsolateExecutor } from "../../sandboxes/isolate/index.js";
import type { Executor, SandboxTool } from "../../sandboxes/executor.js";
import { LIMIT_DEFAULTS, ManifestSchema } from "../../src/manifest/schema.js";
import { runExecutorContract, type ContractToolKind } from "./suite.js";

/** The fixtures stay in the source tree (tsc does not copy them): found by walking up from the compiled file. */
function fixturesRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, "test", "fixtures", "isolate-tools");
    if (existsSync(join(candidate, "echo", "manifest.json"))) return candidate;
  }
  throw new Error("test/fixtures/isolate-tools not found above the compiled test");
}

export function isolateFixtureTool(kind: ContractToolKind): SandboxTool {
  const dir = join(fixturesRoot(), kind);
  const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
  return {
    name: manifest.name,
    version: manifest.version,
    digest: `fixture-${kind}`,
    runtime: "isolate",
    dir,
    entry: manifest.entry!,
    modules: Object.fromEntries(
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => {
          const rel = join(e.parentPath, e.name).slice(dir.length + 1).split("\\").join("/");
          return [rel, readFileSync(join(dir, rel), "utf8")];
        }),
    ),
    limits: { ...LIMIT_DEFAULTS, ...manifest.limits },
    network: false,
    volumes: [],
  };
}

runExecutorContract({
  name: "isolate",
  available: async () => true,
  createExecutor: async () => {
    const executor = createIsolateExecutor();
    await executor.ready();
    return executor;
  },
  toolFor: isolateFixtureTool,
  crashSandbox: async (executor: Executor) => {
    const isolate = executor as IsolateExecutor;
    const killed = isolate.workerPids();
    for (const pid of killed) process.kill(pid, "SIGKILL");
    // Return once the executor has seen every exit, as after a real crash; a call sent in between would land on a dead worker.
    for (let i = 0; i < 200 && isolate.workerPids().some((pid) => killed.includes(pid)); i++) await new Promise((r) => setTimeout(r, 25));
  },
});
