import { mkdir } from "node:fs/promises";
import { toolFailure } from "./denials.js";
import type { FsCall } from "./fs-call.js";
import { resolveInVolume } from "./resolve-in-volume.js";
import { at, hostPathOf } from "./volume-root.js";

/**
 * mkdir -p creates one component at a time inside the fd of its parent and
 * re-opens each with O_NOFOLLOW (see resolve-in-volume.ts), so a symlink
 * planted between two steps cannot make us create directories outside.
 */
export async function makeVolumeDir(call: FsCall, recursive: boolean): Promise<null> {
  if (recursive) {
    const made = await resolveInVolume(call.root, call.target, {
      final: "directory",
      signal: call.signal,
      beforeCreateDir: (hostPath) => call.beforeMutation(hostPath, "mkdir"),
    });
    await made.dir.close();
    return null;
  }
  const found = await resolveInVolume(call.root, call.target, { final: "parent", signal: call.signal });
  try {
    if (found.name === null) throw toolFailure(call.target.path, "already exists");
    await call.beforeMutation(hostPathOf(call.root, found.stack, found.name), "mkdir");
    await mkdir(at(found.dir, found.name), { mode: 0o755 });
    return null;
  } finally {
    await found.dir.close();
  }
}
