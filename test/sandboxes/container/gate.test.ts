/**
 * Nothing of a tool runs outside its call (issue 17, item 2), and a container
 * has a hard wall-clock bound of its own that holds when warden is gone
 * (kill -9) — both from the entrypoint gate of sandboxes/container/gate.ts.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createContainerExecutor } from "../../../sandboxes/container/index.js";
import { LABEL } from "../../../sandboxes/docker/index.js";
import { HARD_BOUND_GRACE_S } from "../../../sandboxes/container/gate.js";
import type { Executor } from "../../../sandboxes/executor.js";
import { call, docker, fixtureTool, requireDocker } from "./fixture.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("container entrypoint gate", () => {
  let executor: Executor;
  const workdir = mkdtempSync(join(tmpdir(), "warden-ctr-gate-"));
  const serverId = `gate${process.pid}`;

  before(() => {
    chmodSync(workdir, 0o777);
    executor = createContainerExecutor({ docker, serverId, poolSize: 1, reapIntervalMs: 0 });
  });
  after(async () => {
    await executor.close();
    rmSync(workdir, { recursive: true, force: true });
  });

  test("a pooled container runs nothing of the tool before its call, and the tool runs at the call", async (t) => {
    if (!(await requireDocker(t))) return;
    // The command writes to the read-write volume BEFORE reading stdin (as the hostile review's tool did).
    const started = join(workdir, "started");
    const tool = fixtureTool("probe", {
      name: "fixture_eager",
      command: [
        "python3",
        "-c",
        "import json, sys, time\nopen('/mnt/work/started', 'a').write('%f\\n' % time.time())\nreq = json.loads(sys.stdin.readline())\nprint(json.dumps({'output': 'ran'}))",
      ],
      volumes: [{ volume: "work", hostPath: workdir, access: "read-write" }],
    });
    await executor.prepare(tool);
    const warm = await docker.listContainers({ filters: { label: [`${LABEL.server}=${serverId}`, `${LABEL.tool}=fixture_eager`, `${LABEL.role}=pool`] } });
    assert.equal(warm.length, 1, "a warm container is running");
    await sleep(1500);
    assert.equal(existsSync(started), false, "the tool's command did not start in the pooled container");
    const outcome = await call(executor, tool, {});
    assert.deepEqual(outcome, { ok: true, output: "ran", outputBytes: 5 });
    assert.equal(readFileSync(started, "utf8").trim().split("\n").length, 1, "it ran once, in the call");
    await sleep(1000);
    assert.equal(readFileSync(started, "utf8").trim().split("\n").length, 1, "the replacement warm container runs nothing either");
  });

  test("with warden frozen or killed, the in-flight container dies at its own hard bound", async (t) => {
    if (!(await requireDocker(t))) return;
    const childServer = `orphan${process.pid}`;
    const child = spawn(process.execPath, ["--no-node-snapshot", fileURLToPath(new URL("./warden-child.js", import.meta.url)), childServer], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => d.toString().includes("started") && resolve());
        child.once("exit", () => reject(new Error("the child warden exited early")));
        setTimeout(() => reject(new Error("the child's call never started")), 60_000).unref();
      });
      // SIGSTOP, not SIGKILL: a warden frozen or gone runs no deadline timer either way, and a stopped
      // process keeps its lease alive, so no reaper of a parallel test removes the container under us.
      child.kill("SIGSTOP");
      const killedAt = Date.now();
      const [info] = await docker.listContainers({ all: true, filters: { label: [`${LABEL.server}=${childServer}`] } });
      assert.ok(info, "the orphaned call's container exists");
      const container = docker.getContainer(info.Id);
      try {
        // The call's limit is 2 s; the container's own bound is 2 s + HARD_BOUND_GRACE_S from the call's start.
        const bound = (2 + HARD_BOUND_GRACE_S) * 1000;
        let state = (await container.inspect()).State;
        while (state.Running && Date.now() - killedAt < bound + 15_000) {
          await sleep(250);
          state = (await container.inspect()).State;
        }
        assert.equal(state.Running, false, "the container did not outlive its call by more than the grace");
        assert.ok(Date.now() - killedAt <= bound + 15_000);
        assert.equal(state.ExitCode, 137, "killed by its hard bound");
        assert.ok(Date.now() - killedAt >= 1000, "not before the call's own deadline");
      } finally {
        await container.remove({ force: true }).catch(() => {});
      }
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("the tool cannot kill or stop the bound that watches it (PID 1)", async (t) => {
    if (!(await requireDocker(t))) return;
    const code = [
      "import signal, time",
      // (SIGTERM is forwarded by timeout to its process group: the tool would only end itself.)
      "for sig in (signal.SIGSTOP, signal.SIGKILL):",
      "    try:",
      "        os.kill(1, sig)",
      "    except OSError:",
      "        pass",
      "time.sleep(0.3)",
      "stat = open('/proc/1/stat').read()",
      "result = {'state': stat[stat.rindex(')') + 2], 'cmd': open('/proc/1/cmdline').read().split('\\0')[0:3]}",
    ].join("\n");
    const outcome = await call(executor, fixtureTool("probe"), { code });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    const result = (outcome as { output: { state: string; cmd: string[] } }).output;
    assert.deepEqual(result.cmd.slice(0, 3), ["timeout", "-s", "KILL"], "PID 1 is the bound");
    assert.notEqual(result.state, "T", "not stopped");
  });
});
