/**
 * The community servers, unmodified, hosted end to end through a real MCP
 * client (SPEC §15): @modelcontextprotocol/server-filesystem and
 * @modelcontextprotocol/server-everything from examples/tools, with the images
 * `warden images build` makes.
 */
import assert from "node:assert/strict";
import { waitFor } from "../../helpers/wait.js";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { CallToolResultSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { buildImages } from "../../../sandboxes/docker/index.js";
import { runCli } from "../../../src/cli/main.js";
import { readAudit } from "../../helpers/audit-read.js";
import { repoRoot } from "../../helpers/paths.js";
import { errorCodeOf } from "../../helpers/result.js";
import { connectStdio } from "../../helpers/server.js";
import { docker } from "../container/fixture.js";
import { mcpServerBackendAvailable, requireReady } from "./fixture.js";

const TOKEN = "everything-granted-token-4242";
type Conn = Awaited<ReturnType<typeof connectStdio>>;
type Block = { type: string; text?: string; data?: string; mimeType?: string };
const blocks = (r: unknown): Block[] => (r as { content: Block[] }).content;

let images: Promise<true | string> | undefined;
function communityImages(): Promise<true | string> {
  images ??= (async () => {
    const base = await mcpServerBackendAvailable();
    if (base !== true) return base;
    // The example folders carry their Dockerfiles; this is what `warden images build` does with them.
    await buildImages({ root: repoRoot(), onProgress: () => {}, only: [], docker, toolDirs: ["files", "everything"].map((n) => join(repoRoot(), "examples", "tools", n)) });
    for (const tag of ["warden-tools/files:1", "warden-tools/everything:1"]) await docker.getImage(tag).inspect();
    return true as const;
  })().catch((err: unknown) => `community server images: ${(err as Error).message}`);
  return images;
}

function requireImages(t: TestContext): Promise<boolean> {
  return requireReady(t, communityImages(), "community server");
}

async function approve(configPath: string, name: string): Promise<string> {
  let out = "";
  const code = await runCli(["approve", name, "--yes", "--config", configPath], { stdout: (x) => (out += x), stderr: (x) => (out += x) });
  if (code !== 0) throw new Error(`approve ${name}: ${out}`);
  return out;
}

async function serverContainers(tool: string): Promise<number> {
  return (await docker.listContainers({ all: true, filters: { label: [`warden.tool=${tool}`] } })).length;
}


/** A workspace with the two example servers; `grants` narrows them. */
function workspace(config: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "warden-community-"));
  mkdirSync(join(dir, "tools"));
  for (const n of ["files", "everything"]) cpSync(join(repoRoot(), "examples", "tools", n), join(dir, "tools", n), { recursive: true });
  const everything = join(dir, "tools", "everything", "manifest.json");
  const m = JSON.parse(readFileSync(everything, "utf8"));
  m.capabilities = { env: ["EVERYTHING_TOKEN"] };
  writeFileSync(everything, JSON.stringify(m, null, 2));
  const ws = join(dir, "ws");
  mkdirSync(ws);
  chmodSync(ws, 0o777); // the server runs as uid 65534
  writeFileSync(join(ws, "hello.txt"), "hello from the volume\n");
  writeFileSync(join(dir, "outside.txt"), "not in any volume\n");
  const configPath = join(dir, "warden.config.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      tools: ["./tools/*"],
      volumes: { workspace: { path: ws } },
      secrets: { EVERYTHING_TOKEN: { env: "WARDEN_EVERYTHING_TOKEN" } },
      audit: { file: "./audit.jsonl" },
      confirm: ["destructive"],
      ...config,
    }),
  );
  return { dir, ws, configPath, auditFile: join(dir, "audit.jsonl") };
}

const ENV = { WARDEN_EVERYTHING_TOKEN: TOKEN };

describe("community MCP servers, unmodified, through warden", () => {
  let w: ReturnType<typeof workspace>;
  let c: Conn;
  let decide: "accept" | "decline" = "decline";
  let ready = false;
  before(async () => {
    if ((await communityImages()) !== true) return;
    w = workspace();
    process.env.WARDEN_EVERYTHING_TOKEN = TOKEN;
    await approve(w.configPath, "files");
    await approve(w.configPath, "everything");
    c = await connectStdio(w.configPath, { env: ENV, capabilities: { elicitation: {} } });
    c.client.setRequestHandler(ElicitRequestSchema, async () => (decide === "accept" ? { action: "accept", content: { confirm: true } } : { action: "decline" }));
    ready = true;
  });
  after(async () => {
    await c?.close();
  });

  test("tools/list shows both servers' tools with their prefixes", async (t) => {
    if (!(await requireImages(t)) || !ready) return;
    const names = (await c.client.listTools()).tools.map((x) => x.name);
    for (const n of ["files_read_text_file", "files_write_file", "files_list_directory", "everything_echo", "everything_get-tiny-image", "everything_trigger-long-running-operation"])
      assert.ok(names.includes(n), `${n} in ${names.join(",")}`);
  });

  test("filesystem: a read inside the volume works", async (t) => {
    if (!(await requireImages(t)) || !ready) return;
    const r = await c.client.callTool({ name: "files_read_text_file", arguments: { path: "/mnt/workspace/hello.txt" } });
    assert.match(blocks(r)[0]!.text!, /hello from the volume/);
  });

  test("filesystem: nothing outside the mounted volume is reachable", async (t) => {
    if (!(await requireImages(t)) || !ready) return;
    for (const path of ["/etc/passwd", `${w.dir}/outside.txt`, "/mnt/workspace/../../etc/hostname"]) {
      const r = await c.client.request({ method: "tools/call", params: { name: "files_read_text_file", arguments: { path } } }, CallToolResultSchema);
      assert.equal(errorCodeOf(r), "E_TOOL_FAILED", `${path}: ${JSON.stringify(r).slice(0, 200)}`);
    }
  });

  test("filesystem: write_file needs a human's confirmation and never runs on decline; runs on accept", async (t) => {
    if (!(await requireImages(t)) || !ready) return;
    decide = "decline";
    const no = await c.client.callTool({ name: "files_write_file", arguments: { path: "/mnt/workspace/declined.txt", content: "x" } });
    assert.equal(errorCodeOf(no), "E_NOT_CONFIRMED");
    assert.ok(!existsSync(join(w.ws, "declined.txt")), "nothing was written");
    decide = "accept";
    const yes = await c.client.callTool({ name: "files_write_file", arguments: { path: "/mnt/workspace/accepted.txt", content: "confirmed" } });
    assert.equal(errorCodeOf(yes), undefined, JSON.stringify(yes).slice(0, 300));
    assert.equal(readFileSync(join(w.ws, "accepted.txt"), "utf8"), "confirmed");
    const rec = readAudit(w.auditFile).find((x) => x.tool === "files_write_file" && x.outcome === "ok")!;
    assert.ok(rec.confirmedBy, "the audit record says who confirmed");
  });

  test("everything: get-tiny-image arrives as an image block", async (t) => {
    if (!(await requireImages(t)) || !ready) return;
    const img = blocks(await c.client.callTool({ name: "everything_get-tiny-image", arguments: {} })).find((b) => b.type === "image");
    assert.equal(img?.mimeType, "image/png");
    assert.ok((img?.data?.length ?? 0) > 10);
  });

  test("everything: structured results pass through", async (t) => {
    if (!(await requireImages(t)) || !ready) return;
    const r = await c.client.callTool({ name: "everything_get-sum", arguments: { a: 2, b: 3 } });
    assert.match(JSON.stringify(r), /5/);
    const e = await c.client.callTool({ name: "everything_echo", arguments: { message: "hi" } });
    assert.match(blocks(e)[0]!.text!, /hi/);
  });

  test("everything: trigger-long-running-operation sends progress that reaches the client", async (t) => {
    if (!(await requireImages(t)) || !ready) return;
    const seen: number[] = [];
    await c.client.callTool({ name: "everything_trigger-long-running-operation", arguments: { duration: 1, steps: 3 } }, undefined, { onprogress: (p) => void seen.push(p.progress) });
    await waitFor(() => seen.length >= 2, "progress notifications");
  });

  test("everything: a client cancel ends the call with E_CANCELLED and the container is gone", async (t) => {
    if (!(await requireImages(t)) || !ready) return;
    const controller = new AbortController();
    const pending = c.client
      .request({ method: "tools/call", params: { name: "everything_trigger-long-running-operation", arguments: { duration: 20, steps: 10 } } }, CallToolResultSchema, { signal: controller.signal })
      .catch(() => null);
    await new Promise((r) => setTimeout(r, 1500));
    controller.abort("enough");
    await pending;
    await waitFor(() => readAudit(w.auditFile).some((x) => x.tool === "everything_trigger-long-running-operation" && x.errorCode === "E_CANCELLED"), "E_CANCELLED in the audit log");
    await waitFor(async () => (await serverContainers("everything")) === 0, "the cancelled server's container to be gone");
  });

  test("everything: get-env shows only granted secrets, and a granted secret's value is redacted", async (t) => {
    if (!(await requireImages(t)) || !ready) return;
    const text = blocks(await c.client.callTool({ name: "everything_get-env", arguments: {} })).map((b) => b.text ?? "").join("\n");
    assert.match(text, /EVERYTHING_TOKEN/);
    assert.ok(!text.includes(TOKEN), "the granted value is redacted");
    assert.match(text, /\[REDACTED\]/);
    assert.ok(!text.includes("WARDEN_EVERYTHING_TOKEN"), "warden's own environment is not there");
    assert.ok(!/HOME=\/root|PWD=\/work/.test(text), "nothing of the host's environment");
  });
});

describe("community filesystem server with the operator's grant narrowed to read", () => {
  test("write_file fails and nothing is written", async (t) => {
    if (!(await requireImages(t))) return;
    const w = workspace({ grants: { files: { filesystem: [{ volume: "workspace", access: "read" }] } }, confirm: [] });
    await approve(w.configPath, "files");
    const c = await connectStdio(w.configPath, { env: ENV });
    try {
      const r = await c.client.callTool({ name: "files_write_file", arguments: { path: "/mnt/workspace/new.txt", content: "x" } });
      assert.equal(errorCodeOf(r), "E_TOOL_FAILED");
      assert.ok(!existsSync(join(w.ws, "new.txt")));
      const read = await c.client.callTool({ name: "files_read_text_file", arguments: { path: "/mnt/workspace/hello.txt" } });
      assert.match(blocks(read)[0]!.text!, /hello/);
    } finally {
      await c.close();
    }
  });
});
