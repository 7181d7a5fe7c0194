import { lstat, open, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { isCallId } from "./call-id.js";
import { CALL_FILE, CALLS_FILE, readJsonLines, type CallTouch } from "./records.js";
import { errnoOf } from "./volume-walk.js";

/** fsync of a directory: a create, rename or unlink inside it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Bytes of all files below `dir` (0 when it does not exist yet); links are not followed. */
export async function treeBytes(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return 0;
    throw err;
  }
  let total = 0;
  for (const name of names) {
    const path = join(dir, name);
    const stat = await lstat(path);
    total += stat.isDirectory() ? await treeBytes(path) : stat.size;
  }
  return total;
}

/** What the journal holds now: all bytes, and the bytes of each tool's call folders and calls.jsonl lines. */
export async function journalUsage(dir: string): Promise<{ total: number; byTool: Map<string, number> }> {
  const total = await treeBytes(dir);
  const byTool = new Map<string, number>();
  const add = (tool: string, bytes: number) => byTool.set(tool, (byTool.get(tool) ?? 0) + bytes);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return { total, byTool };
    throw err;
  }
  for (const name of names) {
    const folder = join(dir, name);
    if (!isCallId(name) || !(await lstat(folder)).isDirectory()) continue;
    const tool = await toolOfCall(folder);
    if (tool !== null) add(tool, await treeBytes(folder));
  }
  const { lines } = await readJsonLines<CallTouch>(join(dir, CALLS_FILE));
  for (const line of lines) add(line.tool, Buffer.byteLength(`${JSON.stringify(line)}\n`));
  return { total, byTool };
}

/** The tool named in a call folder's call.json, or null when unreadable. */
export async function toolOfCall(folder: string): Promise<string | null> {
  try {
    const meta = JSON.parse((await readFile(join(folder, CALL_FILE), "utf8")).split("\n")[0]!) as { tool?: unknown };
    return typeof meta.tool === "string" ? meta.tool : null;
  } catch {
    return null;
  }
}
