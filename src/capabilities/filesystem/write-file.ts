import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { symlinkEscapes, toolFailure } from "./denials.js";
import { assertPlainFile, type FsCall } from "./fs-call.js";
import { reserveBytes } from "./quota.js";
import { resolveInVolume } from "./resolve-in-volume.js";
import { at, hostPathOf, isInside } from "./volume-root.js";

// No O_TRUNC: the opened object is checked (regular, one link, inside) before a byte of it changes.
// O_NOFOLLOW with O_CREAT: a symlink swapped in at the last moment makes the open fail, never creates its target.
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

export async function writeVolumeFile(call: FsCall, data: unknown): Promise<null> {
  const path = call.target.path;
  if (typeof data !== "string" && !(data instanceof Uint8Array)) throw toolFailure(path, "data must be a string or a Uint8Array");
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const found = await resolveInVolume(call.root, call.target, { final: "follow", signal: call.signal });
  try {
    if (found.name === null) throw toolFailure(path, "is a directory");
    if (found.stat) assertPlainFile(path, found.stat);
    const before = found.stat?.size ?? 0;
    // Quota is checked before anything is created or written.
    const reservation = await reserveBytes(call.root, path, bytes.length - before, call.quotaRescanMs);
    try {
      await call.beforeMutation(hostPathOf(call.root, found.stack, found.name), "writeFile");
      const file = await open(at(found.dir, found.name), WRITE_FLAGS, 0o644);
      try {
        const stat = await file.stat();
        assertPlainFile(path, stat);
        if (!(await isInside(call.root, file))) throw symlinkEscapes(path, call.root.grant.volume);
        await file.truncate(0);
        await file.writeFile(bytes);
        reservation.settle(bytes.length - stat.size);
      } finally {
        await file.close();
      }
    } catch (err) {
      reservation.cancel();
      throw err;
    }
    return null;
  } finally {
    await found.dir.close();
  }
}
