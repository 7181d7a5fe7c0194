import { readdir } from "node:fs/promises";
import { symlinkEscapes } from "./denials.js";
import type { FsCall } from "./fs-call.js";
import { resolveInVolume } from "./resolve-in-volume.js";
import { isInside } from "./volume-root.js";

/** Sorted names (not types, not sizes: a tool that wants those asks stat, which checks each path). */
export async function readVolumeDir(call: FsCall): Promise<string[]> {
  const found = await resolveInVolume(call.root, call.target, { final: "directory", signal: call.signal });
  try {
    if (!(await isInside(call.root, found.dir))) throw symlinkEscapes(call.target.path, call.root.grant.volume);
    const names = await readdir(`/proc/self/fd/${found.dir.fd}`);
    return names.sort();
  } finally {
    await found.dir.close();
  }
}
