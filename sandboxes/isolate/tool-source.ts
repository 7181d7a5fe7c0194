/**
 * Reads an isolate tool's module files once per (name, digest), in the broker,
 * so the code a worker runs is the code the broker loaded and approved — a
 * worker never opens a path itself.
 */
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { WardenError } from "../../src/errors.js";
import type { SandboxTool } from "../executor.js";
import type { WireTool } from "./protocol.js";

const MODULE_FILE = /\.(m?js)$/;
/** Stops a tool folder holding a huge tree from being shipped to every worker. */
const MAX_MODULE_FILES = 512;
const MAX_MODULE_BYTES = 8 * 1024 * 1024;

export function wireKey(tool: SandboxTool): string {
  const { timeoutMs, memoryMb, outputBytes } = tool.limits;
  return `${tool.name}@${tool.digest}#${timeoutMs}/${memoryMb}/${outputBytes}`;
}

export async function loadWireTool(tool: SandboxTool): Promise<WireTool> {
  if (!tool.entry) throw new WardenError("E_TOOL_FAILED", `isolate tool ${tool.name} has no entry module`);
  const entry = tool.entry.split("\\").join("/").replace(/^\.\//, "");
  const modules: Record<string, string> = {};
  let files = 0;
  let bytes = 0;
  // Symlinks are skipped, not followed: a link to /etc/passwd must not become an importable "module".
  async function walk(rel: string): Promise<void> {
    for (const entryName of await readdir(join(tool.dir, rel))) {
      const relPath = rel ? `${rel}/${entryName}` : entryName;
      const info = await lstat(join(tool.dir, relPath));
      if (info.isDirectory()) await walk(relPath);
      else if (info.isFile() && MODULE_FILE.test(entryName)) {
        files += 1;
        bytes += info.size;
        if (files > MAX_MODULE_FILES || bytes > MAX_MODULE_BYTES)
          throw new WardenError("E_TOOL_FAILED", `isolate tool ${tool.name} has more than ${MAX_MODULE_FILES} module files or ${MAX_MODULE_BYTES} bytes of modules`);
        modules[relPath] = await readFile(join(tool.dir, relPath), "utf8");
      }
    }
  }
  try {
    await walk("");
  } catch (err) {
    if (err instanceof WardenError) throw err;
    throw new WardenError("E_TOOL_FAILED", `isolate tool ${tool.name}: its module files could not be read`);
  }
  if (!(entry in modules))
    throw new WardenError("E_TOOL_FAILED", `isolate tool ${tool.name}: entry module "${entry}" is not a .js/.mjs file in the tool folder`);
  return { key: wireKey(tool), name: tool.name, entry, modules, limits: tool.limits };
}
