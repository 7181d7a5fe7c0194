/**
 * The container backend's own behaviour beyond the shared contract: how a
 * container is created (settings, labels), the stdio protocol, the warm pool,
 * and failing fast when the engine or the image is missing.
 */
import assert from "node:assert/strict";
import Dockerode from "dockerode";
import { after, before, describe, test } from "node:test";
import { createContainerExecutor } from "../../../sandboxes/container/index.js";
import { LABEL } from "../../../sandboxes/docker/index.js";
import { SECCOMP_PROFILE_JSON } from "../../../sandboxes/docker/seccomp-profile.js";
import { STDERR_LINES_MAX } from "../../../sandboxes/container/stdio-collector.js";
import type { Executor } from "../../../sandboxes/executor.js";
import { assertCode, call, docker, fixtureTool, recordingHost, requireDocker } from "./fixture.js";

const serverId = `exec${process.pid}`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function containersOf(server: string, extra: string[] = []): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABEL.server}=${server}`, ...extra] } });
}

describe("container executor", () => {
  let executor: Executor;
  before(() => {
    executor = createContainerExecutor({ docker, serverId, poolSize: 1, reapIntervalMs: 0 });
  });
  after(async () => {
    await executor.close();
  });

  test("a call's container carries every hardening setting and warden's labels", async (t) => {
    if (!(await requireDocker(t))) return;
    const tool = fixtureTool("slow", { name: "fixture_inspected", owner: "team@example.invalid" });
    const controller = new AbortController();
    const pending = call(executor, tool, {}, { signal: controller.signal });
    let running: Dockerode.ContainerInfo | undefined;
    for (let i = 0; i < 100 && !running; i++) {
      running = (await containersOf(serverId, [`${LABEL.tool}=fixture_inspected`]))[0];
      if (!running) await sleep(100);
    }
    assert.ok(running, "the call's container is visible on the engine");
    const info = await docker.getContainer(running.Id).inspect();
    controller.abort();
    await pending;
    const h = info.HostConfig;
    assert.equal(info.Config.User, "65534:65534");
    assert.equal(h.ReadonlyRootfs, true);
    assert.deepEqual(h.Tmpfs, { "/tmp": "rw,noexec,nosuid,nodev,size=16m" });
    assert.deepEqual(h.CapDrop, ["ALL"]);
    assert.equal(h.SecurityOpt?.[0], "no-new-privileges:true");
    assert.equal(h.SecurityOpt?.length, 2);
    assert.deepEqual(JSON.parse(h.SecurityOpt![1]!.replace(/^seccomp=/, "")), JSON.parse(SECCOMP_PROFILE_JSON), "warden's own seccomp profile");
    assert.equal(h.Memory, 64 * 1024 * 1024);
    assert.equal(h.MemorySwap, 64 * 1024 * 1024, "memory = memory+swap: no swapping past the limit");
    assert.equal(h.NanoCpus, 1e9);
    assert.equal(h.PidsLimit, 64);
    assert.equal(h.NetworkMode, "none");
    assert.equal(h.Privileged, false);
    assert.equal(h.IpcMode, "private");
    assert.equal(h.PidMode, "");
    assert.deepEqual(h.Devices ?? [], []);
    assert.deepEqual(h.Binds ?? [], []);
    assert.equal(h.AutoRemove, false, "OOMKilled must be readable before removal");
    assert.equal(info.Config.Labels[LABEL.tool], "fixture_inspected");
    assert.equal(info.Config.Labels[LABEL.owner], "team@example.invalid");
    assert.equal(info.Config.Labels[LABEL.server], serverId);
    assert.ok(info.Config.Labels[LABEL.call], "a call label (the call id, or 'pool' for a warm container)");
  });

  test("the container gets one JSON line on stdin with tool, callId and input, then end of input", async (t) => {
    if (!(await requireDocker(t))) return;
    const tool = fixtureTool("envelope");
    const input = { text: "grüße", list: [1, "two", null] };
    const outcome = await executor.execute({ callId: "call-stdin-1", tool, input, env: {}, host: recordingHost(), signal: new AbortController().signal });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.deepEqual(outcome.ok && outcome.output, { request: { tool: tool.name, callId: "call-stdin-1", input }, rest: "" });
  });

  test("stderr lines become tool logs, bounded per call", async (t) => {
    if (!(await requireDocker(t))) return;
    // Deterministic: lines written before the result are read until the container exits (bounded grace),
    // however dockerd orders the stdout and stderr frames. Repeated, as the loss was intermittent.
    for (let i = 0; i < 5; i++) {
      const host = recordingHost();
      const outcome = await call(executor, fixtureTool("stderr"), { lines: 3 }, { host });
      assert.equal(outcome.ok, true);
      assert.deepEqual(host.logs, ["line 0", "line 1", "line 2"]);
    }
    const flood = recordingHost();
    await call(executor, fixtureTool("stderr"), { lines: STDERR_LINES_MAX + 500 }, { host: flood });
    assert.equal(flood.logs.length, STDERR_LINES_MAX + 1);
    assert.match(flood.logs.at(-1)!, /rest is dropped/);
  });

  test("the outcome comes with the result; what the tool writes after it reaches nobody", async (t) => {
    if (!(await requireDocker(t))) return;
    const host = recordingHost();
    const code = [
      "import sys, time",
      "sys.stderr.write('before\\n'); sys.stderr.flush()",
      // stdout and stderr are two pipes that dockerd multiplexes with no order between them: give the
      // line written before the result time to arrive first (the property tested is what comes after).
      "time.sleep(0.3)",
      "sys.stdout.write(json.dumps({'output': {'done': True}})); sys.stdout.flush()",
      // Past the stderr grace (STDERR_GRACE_MS) that waits for lines written before the result.
      "time.sleep(1.2)",
      "sys.stderr.write('after the result\\n'); sys.stderr.flush()",
      "time.sleep(5)",
    ].join("\n");
    const outcome = await call(executor, fixtureTool("probe"), { code }, { host });
    assert.deepEqual(outcome, { ok: true, output: { done: true }, outputBytes: 13 });
    await sleep(1500);
    assert.deepEqual(host.logs, ["before"]);
  });

  test("stderr written right before the result, while stdout is written at once, is never dropped", async (t) => {
    if (!(await requireDocker(t))) return;
    // The result goes out first on an unbuffered stdout, a burst of stderr right after it and before exit:
    // without reading stderr until the container has exited, the outcome races ahead of these lines.
    const code = [
      "import sys",
      "sys.stdout.write(json.dumps({'output': 1})); sys.stdout.flush()",
      "sys.stderr.write(''.join('late %d\\n' % i for i in range(50))); sys.stderr.flush()",
    ].join("\n");
    for (let i = 0; i < 3; i++) {
      const host = recordingHost();
      const outcome = await call(executor, fixtureTool("probe"), { code }, { host });
      assert.equal(outcome.ok, true);
      assert.equal(host.logs.length, 50, `all 50 lines (got ${host.logs.length})`);
    }
  });

  test("progress objects on stdout before the result are relayed as progress", async (t) => {
    if (!(await requireDocker(t))) return;
    const host = recordingHost();
    // Probe snippets, not new fixture kinds: the fixture image tag is shared by every worktree's tests.
    const code = [
      "import sys",
      "for i in range(3): sys.stdout.write(json.dumps({'progress': i + 1, 'total': 3}) + '\\n'); sys.stdout.flush()",
      "result = {'steps': 3}",
    ].join("\n");
    const outcome = await call(executor, fixtureTool("probe"), { code }, { host });
    assert.deepEqual(outcome, { ok: true, output: { steps: 3 }, outputBytes: 11 });
    assert.deepEqual(host.progressSeen, [[1, 3], [2, 3], [3, 3]]);
  });

  test("stdout flooded with chunks ending in } costs the broker linear work, not quadratic", async (t) => {
    if (!(await requireDocker(t))) return;
    const chunks = 2048; // 8 MiB
    const tool = fixtureTool("probe", { limits: { ...fixtureTool("x").limits, outputBytes: 9 * 1024 * 1024 } });
    // Chunks that each end in "}" inside one open string; the probe's own result line is never reached.
    const code = [
      "import sys",
      "sys.stdout.write('{\"output\":\"')",
      "for _ in range(input['chunks']): sys.stdout.write('x' * 4095 + '}'); sys.stdout.flush()",
      "sys.stdout.write('\"}'); sys.stdout.flush(); os._exit(0)",
    ].join("\n");
    const before = process.cpuUsage();
    const outcome = await call(executor, tool, { chunks, code });
    const used = process.cpuUsage(before);
    assert.equal(outcome.ok, true, JSON.stringify(outcome).slice(0, 300));
    assert.equal((outcome.ok && (outcome.output as string).length), chunks * 4096);
    const ms = (used.user + used.system) / 1000;
    // Re-joining and re-parsing the buffer per chunk took seconds here; one pass takes tens of ms.
    assert.ok(ms < 1500, `broker CPU for the call: ${ms.toFixed(0)} ms`);
  });

  test("an {\"error\"} result is E_TOOL_FAILED with the tool's own message", async (t) => {
    if (!(await requireDocker(t))) return;
    const message = assertCode(await call(executor, fixtureTool("error-result"), { msg: "quota exceeded for this file" }), "E_TOOL_FAILED");
    assert.equal(message, "quota exceeded for this file");
  });

  test("a tool exiting without a result is E_TOOL_FAILED", async (t) => {
    if (!(await requireDocker(t))) return;
    assertCode(await call(executor, fixtureTool("probe"), { code: "import sys; sys.stdout.close(); os._exit(0)" }), "E_TOOL_FAILED");
  });

  test("prepare() leaves a started container waiting, used by exactly one call and then replaced", async (t) => {
    if (!(await requireDocker(t))) return;
    const tool = fixtureTool("echo", { name: "fixture_pooled" });
    await executor.prepare(tool);
    const warm = await containersOf(serverId, [`${LABEL.tool}=fixture_pooled`, `${LABEL.role}=pool`]);
    assert.equal(warm.length, 1);
    assert.equal(warm[0]!.State, "running", "created AND started, blocked reading stdin");
    const outcome = await call(executor, tool, { hello: 1 });
    assert.equal(outcome.ok, true);
    let after: Dockerode.ContainerInfo[] = [];
    for (let i = 0; i < 100; i++) {
      after = await containersOf(serverId, [`${LABEL.tool}=fixture_pooled`]);
      if (after.length === 1 && after[0]!.Id !== warm[0]!.Id) break;
      await sleep(100);
    }
    assert.equal(after.length, 1, "the used container was removed, one replacement waits");
    assert.notEqual(after[0]!.Id, warm[0]!.Id, "a pooled container serves one call only");
  });

  test("no container of a finished call is left on the engine", async (t) => {
    if (!(await requireDocker(t))) return;
    const own = createContainerExecutor({ docker, serverId: `${serverId}np`, poolSize: 0, reapIntervalMs: 0 });
    try {
      await call(own, fixtureTool("echo"), {});
      assertCode(await call(own, fixtureTool("throws"), { msg: "x" }), "E_TOOL_FAILED");
      for (let i = 0; i < 50 && (await containersOf(`${serverId}np`)).length > 0; i++) await sleep(100);
      assert.deepEqual(await containersOf(`${serverId}np`), []);
    } finally {
      await own.close();
    }
  });

  test("a missing image is E_SANDBOX_UNAVAILABLE naming the fix", async (t) => {
    if (!(await requireDocker(t))) return;
    const message = assertCode(await call(executor, fixtureTool("echo", { image: "warden-test/never-built:0" }), {}), "E_SANDBOX_UNAVAILABLE");
    assert.match(message, /warden images build/);
  });
});

describe("container executor without an engine", () => {
  test("an unreachable engine fails the call at once with E_SANDBOX_UNAVAILABLE", async () => {
    const ghost = new Dockerode({ socketPath: "/nonexistent/warden-test-docker.sock" });
    const executor = createContainerExecutor({ docker: ghost, serverId: "ghost", reapIntervalMs: 0 });
    try {
      const started = Date.now();
      const message = assertCode(await call(executor, fixtureTool("echo"), {}), "E_SANDBOX_UNAVAILABLE");
      assert.ok(Date.now() - started < 2000, "no hang on a dead engine");
      assert.match(message, /not reachable/);
      assert.doesNotMatch(message, /nonexistent/, "no host paths in messages");
      await executor.prepare(fixtureTool("echo"));
    } finally {
      await executor.close();
    }
  });
});
