import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./paths.js";

export interface ToolSpec {
  manifest: Record<string, unknown>;
  files?: Record<string, string>;
}

export interface Workspace {
  dir: string;
  configPath: string;
  auditFile: string;
  toolDir(name: string): string;
}

export const TEST_TOKEN = "test-token-0123456789";
export const TEST_TOKEN_SHA = createHash("sha256").update(TEST_TOKEN).digest("hex");

/** A minimal isolate tool manifest; override any field. */
export function isolateManifest(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    version: "1.0.0",
    description: `test tool ${name}`,
    runtime: "isolate",
    entry: "index.js",
    effect: "read",
    inputSchema: { type: "object" },
    limits: { timeoutMs: 10000, memoryMb: 64, outputBytes: 65536 },
    ...extra,
  };
}

/**
 * A temp folder with tools/<name>/ and warden.config.json. `examples` copies
 * tool folders from examples/tools; `tools` writes new ones.
 */
export function makeWorkspace(options: { examples?: string[]; tools?: Record<string, ToolSpec>; config?: Record<string, unknown> } = {}): Workspace {
  const dir = mkdtempSync(join(tmpdir(), "warden-test-"));
  mkdirSync(join(dir, "tools"));
  for (const name of options.examples ?? []) cpSync(join(repoRoot(), "examples", "tools", name), join(dir, "tools", name), { recursive: true });
  for (const [name, spec] of Object.entries(options.tools ?? {})) {
    const tdir = join(dir, "tools", name);
    mkdirSync(tdir, { recursive: true });
    writeFileSync(join(tdir, "manifest.json"), JSON.stringify(spec.manifest, null, 2));
    for (const [file, text] of Object.entries(spec.files ?? {})) {
      mkdirSync(join(tdir, file, ".."), { recursive: true });
      writeFileSync(join(tdir, file), text);
    }
  }
  const config = {
    tools: ["./tools/*"],
    audit: { file: "./audit.jsonl" },
    http: { listen: "127.0.0.1:0", tokens: [{ name: "ci", sha256: TEST_TOKEN_SHA }] },
    ...options.config,
  };
  const configPath = join(dir, "warden.config.json");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return { dir, configPath, auditFile: join(dir, "audit.jsonl"), toolDir: (name) => join(dir, "tools", name) };
}

/** Approves every tool of the workspace as `warden approve --yes` would (writes warden.lock.json). */
export async function approveAll(ws: Workspace): Promise<void> {
  const { readdirSync } = await import("node:fs");
  const { loadTool, readEngineImageId } = await import("../../src/manifest/index.js");
  const { approvalFor, lockPathFor, writeLock } = await import("../../src/policy/lock.js");
  const lock = { lockfileVersion: 1 as const, tools: {} as Record<string, ReturnType<typeof approvalFor>> };
  for (const name of readdirSync(join(ws.dir, "tools"))) {
    // Container tools: the digest binds the engine's image ID, as `warden approve` reads it.
    const tool = await loadTool(join(ws.dir, "tools", name), { imageIdOf: readEngineImageId });
    lock.tools[tool.manifest.name] = approvalFor(tool.manifest, tool.digest, tool.limits, new Date(), tool.imageId ? { imageId: tool.imageId } : {});
  }
  await writeLock(lockPathFor(ws.configPath), lock);
}
