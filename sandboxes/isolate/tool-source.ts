/**
 * Turns an isolate tool's module texts into what a worker receives. The texts
 * come from `SandboxTool.modules`, i.e. from the same bytes the digest was
 * computed over when the manifest was loaded: nothing here reads the tool
 * folder. A file swapped on disk after hashing (the review's inotify race:
 * hash the approved `marker.js`, then rename another one over it before the
 * worker loads it) therefore never runs under the approval.
 */
import { WardenError } from "../../src/errors.js";
import type { IsolateSandboxTool, SandboxTool } from "../executor.js";
import type { WireTool } from "./protocol.js";

const MODULE_FILE = /\.(m?js)$/;
/** Stops a tool folder holding a huge tree from being shipped to every worker. */
const MAX_MODULE_FILES = 512;
const MAX_MODULE_BYTES = 8 * 1024 * 1024;

export function wireKey(tool: SandboxTool): string {
  const { timeoutMs, memoryMb, outputBytes } = tool.limits;
  return `${tool.name}@${tool.digest}#${timeoutMs}/${memoryMb}/${outputBytes}`;
}

export function wireToolOf(tool: IsolateSandboxTool): WireTool {
  if (!tool.entry) throw new WardenError("E_TOOL_FAILED", `isolate tool ${tool.name} has no entry module`);
  if (!tool.modules)
    throw new WardenError("E_SANDBOX_UNAVAILABLE", `isolate tool ${tool.name} carries no module sources; the backend runs only the bytes its digest covers and never reads the folder`);
  const entry = tool.entry.split("\\").join("/").replace(/^\.\//, "");
  const modules: Record<string, string> = Object.create(null) as Record<string, string>;
  let files = 0;
  let bytes = 0;
  for (const [path, source] of Object.entries(tool.modules)) {
    if (!MODULE_FILE.test(path)) continue; // manifest.json, data files: not importable modules
    files += 1;
    bytes += source.length;
    if (files > MAX_MODULE_FILES || bytes > MAX_MODULE_BYTES)
      throw new WardenError("E_TOOL_FAILED", `isolate tool ${tool.name} has more than ${MAX_MODULE_FILES} module files or ${MAX_MODULE_BYTES} bytes of modules`);
    modules[path] = source;
  }
  if (!Object.hasOwn(modules, entry))
    throw new WardenError("E_TOOL_FAILED", `isolate tool ${tool.name}: entry module "${entry}" is not a .js/.mjs file in the tool folder`);
  return { key: wireKey(tool), name: tool.name, entry, modules, limits: tool.limits };
}
