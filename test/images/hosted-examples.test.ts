/**
 * The other two hosted-server examples (SPEC §15): `everything` (community
 * reference server, unmodified) and `py_notes_server` (stdlib-only Python),
 * built by `warden images build`'s code path and driven by a real MCP SDK
 * Client over the stdio of a hardened `docker run` — no warden in between, so
 * a failure here is the image's or the example's, not the broker's. Without an
 * engine: skipped loudly, except under CI=true, where it fails.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import Dockerode from "dockerode";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { buildImages, pingEngine } from "../../sandboxes/docker/index.js";
import { findToolDirs } from "../../src/broker/index.js";
import { loadConfigFile } from "../../src/config/load.js";
import { repoRoot } from "../helpers/paths.js";

const docker = new Dockerode();
let built: Promise<unknown> | undefined;

async function ready(t: TestContext): Promise<boolean> {
  const ping = await pingEngine(docker);
  if (ping !== true) {
    if (process.env.CI === "true") throw new Error(`Docker is required in CI: ${ping}`);
    console.error(`\n*** SKIPPING Docker test "${t.name}": ${ping} ***\n`);
    t.skip(`Docker unavailable: ${ping}`);
    return false;
  }
  built ??= (async () => {
    const toolDirs = await findToolDirs((await loadConfigFile(join(repoRoot(), "examples", "warden.config.json"))).config.tools);
    return buildImages({ root: repoRoot(), onProgress: () => {}, toolDirs, only: ["everything", "py_notes_server"], docker });
  })();
  await built;
  return true;
}

function manifestOf(name: string): { image: string; command: string[]; effects: Record<string, string> } {
  return JSON.parse(readFileSync(join(repoRoot(), "examples", "tools", name, "manifest.json"), "utf8"));
}

/** The SDK Client on a hardened container's stdin/stdout (the flags warden's own create applies, §4). */
async function connect(name: string): Promise<{ client: Client; effects: Record<string, string> }> {
  const m = manifestOf(name);
  const transport = new StdioClientTransport({
    command: "docker",
    args: [
      "run", "-i", "--rm", "--read-only", "--tmpfs", "/tmp:rw,noexec,nosuid,size=16m", "--user", "65534:65534", "--cap-drop", "ALL",
      "--security-opt", "no-new-privileges", "--network", "none", "--memory", "256m", "--pids-limit", "64", "--label", "warden.test=hosted-examples",
      m.image, ...m.command,
    ],
    stderr: "ignore",
  });
  const client = new Client({ name: "hosted-examples-test", version: "1" });
  await client.connect(transport);
  return { client, effects: m.effects };
}

describe("hosted MCP server examples in hardened containers", { timeout: 600_000 }, () => {
  test("everything: its stdio mode lists the tools the manifest lowers, returns an image block, answers get-sum, sends progress", async (t) => {
    if (!(await ready(t))) return;
    const { client, effects } = await connect("everything");
    try {
      const names = (await client.listTools()).tools.map((x) => x.name);
      for (const name of Object.keys(effects)) assert.ok(names.includes(name), `effects.${name} is not a tool of the server (${names.join(", ")})`);
      const image = await client.callTool({ name: "get-tiny-image", arguments: {} });
      assert.ok((image.content as Array<{ type: string; mimeType?: string }>).some((b) => b.type === "image" && b.mimeType === "image/png"));
      const sum = await client.callTool({ name: "get-sum", arguments: { a: 2, b: 3 } });
      assert.match(JSON.stringify(sum.content), /5/);
      const progress: number[] = [];
      await client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 1, steps: 2 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
      assert.ok(progress.length >= 1, "progress notifications reach the client");
    } finally {
      await client.close();
    }
  });

  test("py_notes_server: initialize, tools/list, structured results, isError for bad input, a protocol error for an unknown tool", async (t) => {
    if (!(await ready(t))) return;
    const { client, effects } = await connect("py_notes_server");
    try {
      assert.equal(client.getServerVersion()?.name, "py-notes-server");
      const names = (await client.listTools()).tools.map((x) => x.name).sort();
      assert.deepEqual(names, ["add_note", "list_notes", "search_notes"]);
      for (const name of Object.keys(effects)) assert.ok(names.includes(name), `effects.${name}`);
      assert.deepEqual((await client.callTool({ name: "add_note", arguments: { text: "Warden hosts servers" } })).structuredContent, { id: 1 });
      await client.callTool({ name: "add_note", arguments: { text: "something else" } });
      assert.deepEqual((await client.callTool({ name: "search_notes", arguments: { query: "WARDEN" } })).structuredContent, { notes: [{ id: 1, text: "Warden hosts servers" }] });
      assert.equal(((await client.callTool({ name: "list_notes", arguments: {} })).structuredContent as { notes: unknown[] }).notes.length, 2);
      const bad = await client.callTool({ name: "add_note", arguments: { text: "" } });
      assert.equal(bad.isError, true);
      await assert.rejects(client.callTool({ name: "no_such_tool", arguments: {} }), /-32602|unknown tool/);
      assert.deepEqual(await client.ping(), {});
    } finally {
      await client.close();
    }
  });
});
