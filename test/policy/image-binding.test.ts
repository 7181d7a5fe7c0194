/**
 * SPEC §2/§7: a container tool's approval binds the engine's image ID. The
 * review's break: rebuilding the tag after approval ran the new image, and
 * `warden approve` even said "already approved". Here a throwaway tag (built
 * on the contract fixture image, removed afterwards) is rebuilt mid-test.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import type { ToolHost } from "../../sandboxes/executor.js";
import { createContainerExecutor } from "../../sandboxes/container/index.js";
import { loadRegistry } from "../../src/broker/index.js";
import { approveCommand } from "../../src/cli/approve.js";
import { listCommand } from "../../src/cli/list.js";
import { loadConfigFile } from "../../src/config/load.js";
import { makeWorkspace } from "../helpers/workspace.js";
import { FIXTURE_IMAGE, requireDocker } from "../sandboxes/container/fixture.js";
import { runCommand } from "../cli/cli-io.js";

const run = promisify(execFile);
const TAG = `warden-test-issue19-${process.pid}:1`;
const ours = new Set<string>();

/** Builds TAG from the contract fixture with a label that makes each build a different image; returns its ID. */
async function buildTag(rev: number): Promise<string> {
  const child = execFile("docker", ["build", "-q", "-t", TAG, "-"]);
  child.stdin!.end(`FROM ${FIXTURE_IMAGE}\nLABEL warden.test.rev="${rev}-${process.pid}"\n`);
  const out = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (d: Buffer) => (text += d.toString()));
    child.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`docker build exited ${code}`))));
  });
  const id = out.trim().split("\n").at(-1)!;
  ours.add(id);
  return id;
}

after(async () => {
  // Only what this file created: the tag and the images it named.
  await run("docker", ["rmi", "-f", TAG]).catch(() => {});
  for (const id of ours) await run("docker", ["rmi", "-f", id]).catch(() => {});
});

const host: ToolHost = {
  log() {},
  progress() {},
  fetch: async () => ({ ok: false, error: { code: "E_CAPABILITY_DENIED", message: "no" } }),
  fs: async () => ({ ok: false, error: { code: "E_CAPABILITY_DENIED", message: "no" } }),
  recordEgress: () => {},
};

function containerManifest(image: string, command: string[]): Record<string, unknown> {
  return { name: "echo_box", version: "1.0.0", description: "echo", runtime: "container", image, command, effect: "read", inputSchema: { type: "object" } };
}

describe("container approvals bind the image ID", () => {
  test("a rebuilt tag drops the approval, approve shows the image ID change, and a container start with the old binding is refused", async (t) => {
    if (!(await requireDocker(t))) return;
    const firstId = await buildTag(1);
    const ws = makeWorkspace({ tools: { echo_box: { manifest: containerManifest(TAG, ["python3", "/app/contract.py", "echo"]) } } });

    const approved = await runCommand(approveCommand, ["echo_box"], ws.configPath, { yes: true });
    assert.equal(approved.code, 0, approved.err);
    assert.ok(approved.out.includes(`image ID:      ${firstId}`), approved.out);
    const lock = JSON.parse(readFileSync(join(ws.dir, "warden.lock.json"), "utf8")) as { tools: Record<string, { imageId?: string }> };
    assert.equal(lock.tools.echo_box?.imageId, firstId);

    const before = (await loadRegistry(await loadConfigFile(ws.configPath))).tools.get("echo_box")!;
    assert.equal(before.sandbox.runtime === "container" && before.sandbox.imageId, firstId);
    const executor = createContainerExecutor({ poolSize: 0, reapIntervalMs: 0 });
    t.after(() => executor.close());
    const ok = await executor.execute({ callId: "c1", tool: before.sandbox, input: { hello: 1 }, env: {}, host, signal: new AbortController().signal });
    assert.equal(ok.ok, true, JSON.stringify(ok));

    const secondId = await buildTag(2);
    assert.notEqual(secondId, firstId);
    // The server that loaded before the rebuild: the start check refuses the call.
    const refused = await executor.execute({ callId: "c2", tool: before.sandbox, input: {}, env: {}, host, signal: new AbortController().signal });
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.error.code, "E_NOT_APPROVED");
    assert.match(!refused.ok ? refused.error.message : "", /changed since it was approved .*warden approve echo_box/);

    // A reload: the digest binds the new ID, so the lock no longer approves it.
    const after = (await loadRegistry(await loadConfigFile(ws.configPath))).tools.get("echo_box")!;
    assert.notEqual(after.sandbox.digest, before.sandbox.digest);
    const listed = await runCommand(listCommand, [], ws.configPath);
    assert.match(listed.out, /echo_box@1\.0\.0 .* changed since approval of 1\.0\.0 \(the image was rebuilt or retagged\)/);

    const again = await runCommand(approveCommand, ["echo_box"], ws.configPath, { yes: true });
    assert.equal(again.code, 0, again.err);
    assert.doesNotMatch(again.out, /already approved/);
    assert.ok(again.out.includes(`NEW image ID (the image was rebuilt or retagged): ${firstId} → ${secondId}`), again.out);
  });

  test("approve shows image and command, and on re-approval a diff of each", async (t) => {
    if (!(await requireDocker(t))) return;
    await buildTag(3);
    const ws = makeWorkspace({ tools: { echo_box: { manifest: containerManifest(TAG, ["python3", "/app/contract.py", "echo"]) } } });
    const first = await runCommand(approveCommand, ["echo_box"], ws.configPath, { yes: true });
    assert.equal(first.code, 0, first.err);
    assert.ok(first.out.includes(`image:         ${TAG}`), first.out);
    assert.ok(first.out.includes(`command:       ["python3","/app/contract.py","echo"]`), first.out);
    writeFileSync(join(ws.toolDir("echo_box"), "manifest.json"), JSON.stringify(containerManifest(FIXTURE_IMAGE, ["python3", "/app/contract.py", "env"])));
    const second = await runCommand(approveCommand, ["echo_box"], ws.configPath, { yes: true });
    assert.equal(second.code, 0, second.err);
    assert.ok(second.out.includes(`NEW image: ${TAG} → ${FIXTURE_IMAGE}`), second.out);
    assert.ok(second.out.includes(`NEW command: ["python3","/app/contract.py","echo"] → ["python3","/app/contract.py","env"]`), second.out);
  });

  test("without an image ID (the image is missing) approve refuses, and a start never runs an image nobody vouched for", async (t) => {
    if (!(await requireDocker(t))) return;
    const missing = `warden-test-missing-${process.pid}:1`;
    const ws = makeWorkspace({ tools: { echo_box: { manifest: containerManifest(missing, ["true"]) } } });
    const result = await runCommand(approveCommand, ["echo_box"], ws.configPath, { yes: true });
    assert.equal(result.code, 1);
    assert.match(result.err, /cannot approve echo_box: its approval binds the image ID/);
    const listed = await runCommand(listCommand, [], ws.configPath);
    assert.match(listed.out, /echo_box@1\.0\.0 .* not approvable now: the image ID of .* cannot be read/);

    // The image appears after the load: the loaded tool still carries no vouched-for ID, so its start is refused.
    const loadedBefore = (await loadRegistry(await loadConfigFile(ws.configPath))).tools.get("echo_box")!;
    await run("docker", ["tag", FIXTURE_IMAGE, missing]);
    t.after(() => run("docker", ["rmi", missing]).catch(() => {}));
    const executor = createContainerExecutor({ poolSize: 0, reapIntervalMs: 0 });
    t.after(() => executor.close());
    const outcome = await executor.execute({ callId: "c3", tool: loadedBefore.sandbox, input: {}, env: {}, host, signal: new AbortController().signal });
    assert.equal(!outcome.ok && outcome.error.code, "E_NOT_APPROVED");
    assert.match(!outcome.ok ? outcome.error.message : "", /could not be read when echo_box was loaded/);
  });
});
