/**
 * The example container tools (examples/tools/py_*) validate, build with
 * `buildImages`, and run in the container backend as a user would run them.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createContainerExecutor } from "../../../sandboxes/container/index.js";
import { buildImages } from "../../../sandboxes/docker/index.js";
import type { Executor, SandboxTool } from "../../../sandboxes/executor.js";
import { LIMIT_DEFAULTS, ManifestSchema } from "../../../src/manifest/schema.js";
import { assertCode, call, docker, repoRoot, requireDocker, withBrokerPolicy } from "./fixture.js";

const EXAMPLES = ["py_word_freq", "py_volume_stats", "py_fetch_status"];

function exampleTool(name: string, extra: Partial<SandboxTool> = {}): SandboxTool {
  const dir = join(repoRoot(), "examples", "tools", name);
  const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
  return {
    name: manifest.name,
    version: manifest.version,
    digest: `sha256:example-${name}`,
    runtime: "container",
    dir,
    image: manifest.image ?? "",
    command: manifest.command,
    // The deadline includes container start-up, which on a loaded 2-core CI box can take many seconds.
    limits: { ...LIMIT_DEFAULTS, ...manifest.limits, timeoutMs: 60_000 },
    network: false,
    volumes: [],
    ...extra,
  };
}

describe("example container tools", () => {
  let executor: Executor;
  let building: Promise<{ built: string[]; lines: string[] }> | undefined;
  const imagesBuilt = () => {
    const lines: string[] = [];
    building ??= buildImages({ root: repoRoot(), onProgress: (l) => lines.push(l), only: EXAMPLES, docker }).then((r) => ({ ...r, lines }));
    return building;
  };
  const workspace = mkdtempSync(join(tmpdir(), "warden-ctr-examples-"));
  let service: Server;
  let servicePort = 0;

  before(async () => {
    service = createServer((_req, res) => res.end("status: all good"));
    await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve));
    servicePort = (service.address() as { port: number }).port;
    executor = withBrokerPolicy(createContainerExecutor({ docker, serverId: `examples${process.pid}`, poolSize: 0, reapIntervalMs: 0 }), () => [
      { pattern: `http://127.0.0.1:${servicePort}`, allowPrivate: true },
    ]);
  });
  after(async () => {
    await executor.close();
    service.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  test("every example manifest is valid and names a container image", () => {
    for (const name of EXAMPLES) {
      const tool = exampleTool(name);
      assert.equal(tool.runtime, "container");
      assert.match(tool.image!, /^warden-tools\/py_/);
    }
  });

  test("buildImages builds the example images with progress lines", async (t) => {
    if (!(await requireDocker(t))) return;
    const { built, lines } = await imagesBuilt();
    assert.deepEqual(built.sort(), EXAMPLES.map((n) => `warden-tools/${n}:1`).sort());
    assert.ok(lines.some((l) => l.includes("warden-tools/py_word_freq:1")));
  });

  test("buildImages names an unknown image folder", async (t) => {
    if (!(await requireDocker(t))) return;
    await assert.rejects(buildImages({ root: repoRoot(), onProgress: () => {}, only: ["no_such_tool"], docker }), /images\/tools\/no_such_tool/);
  });

  test("py_word_freq counts words", async (t) => {
    if (!(await requireDocker(t))) return;
    await imagesBuilt();
    const outcome = await call(executor, exampleTool("py_word_freq"), { text: "the cat and the hat and the bat", top: 2 });
    assert.deepEqual(outcome.ok && outcome.output, { words: 8, top: [{ word: "the", count: 3 }, { word: "and", count: 2 }] });
  });

  test("py_volume_stats reads the granted volume and cannot leave it", async (t) => {
    if (!(await requireDocker(t))) return;
    await imagesBuilt();
    writeFileSync(join(workspace, "notes.txt"), "one two\nthree\n");
    // The tool runs as uid 65534: the operator's volume must be readable by it (mkdtemp makes 0700).
    chmodSync(workspace, 0o755);
    const tool = exampleTool("py_volume_stats", { volumes: [{ volume: "workspace", access: "read", hostPath: workspace }] });
    const outcome = await call(executor, tool, { path: "notes.txt" });
    assert.deepEqual(outcome.ok && outcome.output, { path: "notes.txt", bytes: 14, lines: 2, words: 3 });
    assertCode(await call(executor, tool, { path: "../../etc/passwd" }), "E_TOOL_FAILED");
  });

  test("py_fetch_status fetches through the egress proxy", async (t) => {
    if (!(await requireDocker(t))) return;
    await imagesBuilt();
    const tool = exampleTool("py_fetch_status", { network: true });
    const outcome = await call(executor, tool, { url: `http://127.0.0.1:${servicePort}/status` });
    assert.deepEqual(outcome.ok && outcome.output, { status: 200, bytes: 16, contentType: null });
    const refused = await call(executor, tool, { url: "http://not-granted.example/" });
    assert.equal(refused.ok && (refused.output as { status: number }).status, 403);
  });
});
