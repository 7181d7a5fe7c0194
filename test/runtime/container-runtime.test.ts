/**
 * SPEC §16 at startup: with `container.runtime: "runsc"` warden refuses to
 * start when the engine does not know runsc (or runs it without
 * --oci-seccomp, which would drop §4's seccomp profile inside gVisor), and the
 * refusal names the fix. The engine's runtimes are injected, so this runs on
 * any machine; the real engine path is covered by test/sandboxes/container/runtime.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { WardenError } from "../../src/errors.js";
import { createLogger } from "../../src/logger.js";
import { openRuntime } from "../../src/runtime/open.js";
import type { EngineRuntimes } from "../../sandboxes/docker/runtime-check.js";
import { isolateManifest, makeWorkspace } from "../helpers/workspace.js";

const containerTool = isolateManifest("boxed", { runtime: "container", entry: undefined, image: "warden-test/contract:1", command: ["python3", "/app/contract.py", "echo"] });

function workspace(runtime?: string) {
  return makeWorkspace({
    tools: { boxed: { manifest: containerTool } },
    config: runtime ? { container: { runtime } } : {},
  });
}

const quiet = createLogger({ level: "silent" });
const engine = (runtimes: EngineRuntimes) => async () => runtimes;

test('container.runtime "runsc" on an engine without runsc: warden refuses to start, naming daemon.json and the SIGHUP', async () => {
  const ws = workspace("runsc");
  await assert.rejects(openRuntime(ws.configPath, quiet, { engineRuntimes: engine({ runc: { path: "runc" } }) }), (err: unknown) => {
    assert.ok(err instanceof WardenError);
    assert.equal(err.code, "E_CONFIG");
    assert.match(err.message, /does not know that runtime \(it knows: runc\)/);
    assert.match(err.message, /\/etc\/docker\/daemon\.json/);
    assert.match(err.message, /"runsc": \{"path": "\/usr\/bin\/runsc"/);
    assert.match(err.message, /kill -HUP \$\(pidof dockerd\)/);
    return true;
  });
});

test('container.runtime "runsc" registered without --oci-seccomp: refused (the seccomp profile would not apply in gVisor)', async () => {
  const ws = workspace("runsc");
  const engineRuntimes = engine({ runc: { path: "runc" }, runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=host"] } });
  await assert.rejects(openRuntime(ws.configPath, quiet, { engineRuntimes }), (err: unknown) => {
    assert.ok(err instanceof WardenError);
    assert.equal(err.code, "E_CONFIG");
    assert.match(err.message, /without --oci-seccomp/);
    assert.match(err.message, /kill -HUP/);
    return true;
  });
});

test('container.runtime "runsc" registered with --oci-seccomp: warden starts', async () => {
  const ws = workspace("runsc");
  const engineRuntimes = engine({ runc: { path: "runc" }, runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=host", "--oci-seccomp"] } });
  const runtime = await openRuntime(ws.configPath, quiet, { engineRuntimes });
  assert.equal(runtime.loaded.config.container.runtime, "runsc");
  await runtime.close();
});

test("the default runtime is runc and needs no engine check", async () => {
  const ws = workspace();
  let asked = false;
  const runtime = await openRuntime(ws.configPath, quiet, {
    engineRuntimes: async () => {
      asked = true;
      return {};
    },
  });
  assert.equal(runtime.loaded.config.container.runtime, "runc");
  assert.equal(asked, false);
  await runtime.close();
});

test("a runtime other than runc or runsc is a config error", async () => {
  const ws = workspace("nosuch");
  await assert.rejects(openRuntime(ws.configPath, quiet), (err: unknown) => err instanceof WardenError && err.code === "E_CONFIG" && /runtime/.test(err.message));
});

test('container.runtime "runsc" with no engine answering: warden starts (isolate tools keep serving) and says the runtime is unchecked', async () => {
  const ws = workspace("runsc");
  const lines: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
  const runtime = await openRuntime(ws.configPath, logger, {
    engineRuntimes: async () => {
      throw new WardenError("E_SANDBOX_UNAVAILABLE", "container engine is not reachable (info: ECONNREFUSED); is Docker running?");
    },
  });
  await runtime.close();
  // Every container is still created with HostConfig.Runtime "runsc": an engine without it refuses the create,
  // so the missing check can never mean a call under runc.
  assert.ok(lines.some((l) => l.includes("container.runtime_unchecked")), lines.join(""));
});
