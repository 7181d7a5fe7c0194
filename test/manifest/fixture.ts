import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";

/** A manifest that passes every rule; tests change one thing at a time. */
export function validManifest(): Record<string, unknown> {
  return {
    name: "fetch_weather",
    version: "1.2.0",
    title: "Weather lookup",
    description: "Current weather for a city.",
    runtime: "isolate",
    entry: "index.js",
    effect: "read",
    inputSchema: { type: "object", properties: { city: { type: "string", maxLength: 80 } }, required: ["city"], additionalProperties: false },
    outputSchema: { type: "object", properties: { tempC: { type: "number" } }, required: ["tempC"] },
    capabilities: {
      network: { allow: ["api.open-meteo.com", "*.example.org", "files.example.net:8443", "http://legacy.example.com"] },
      filesystem: [{ volume: "workspace", access: "read" }],
      env: ["WEATHER_API_KEY"],
    },
    limits: { timeoutMs: 5000, memoryMb: 64, outputBytes: 262144 },
  };
}

export const ENTRY_SOURCE = "export default async function run(input, ctx) { return { tempC: 21 }; }\n";

const roots: string[] = [];
after(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

/** A fresh temp folder, removed after the test file. */
export async function tempDir(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "warden-manifest-"));
  roots.push(root);
  return root;
}

/** Writes files (relative path → content; objects become JSON) into a fresh tool folder. */
export async function toolDir(files: Record<string, string | Buffer | object>): Promise<string> {
  const dir = await tempDir();
  await writeFiles(dir, files);
  return dir;
}

export async function writeFiles(dir: string, files: Record<string, string | Buffer | object>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    const data = typeof content === "string" || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 2);
    await writeFile(join(dir, path), data);
  }
}

/** A valid isolate tool folder, with `change` applied to its manifest. */
export async function isolateTool(change: (m: Record<string, any>) => void = () => {}): Promise<string> {
  const manifest = validManifest();
  change(manifest);
  return toolDir({ "manifest.json": manifest, "index.js": ENTRY_SOURCE });
}

/** The repository root (text match on package.json, so a package.json mid-edit does not break these tests). */
export function repoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(join(dir, "package.json")) && /"name"\s*:\s*"mcp-warden"/.test(readFileSync(join(dir, "package.json"), "utf8")))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("repository root not found");
    dir = up;
  }
  return dir;
}
