import { lstat, open, readdir } from "node:fs/promises";
import { join } from "node:path";
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
