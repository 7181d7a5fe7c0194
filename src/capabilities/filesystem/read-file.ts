import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { readTooLarge, symlinkEscapes, toolFailure } from "./denials.js";
import { assertPlainFile, type FsCall } from "./fs-call.js";
import { resolveInVolume } from "./resolve-in-volume.js";
import { at, isInside } from "./volume-root.js";

// O_NONBLOCK: should a fifo be swapped in after the lstat, open returns at once instead of hanging the call.
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

export async function readVolumeFile(call: FsCall, encoding: "utf8" | undefined, maxBytes: number): Promise<string | Uint8Array> {
  const path = call.target.path;
  const found = await resolveInVolume(call.root, call.target, { final: "follow", signal: call.signal });
  let file: FileHandle | undefined;
  try {
    if (found.name === null) throw toolFailure(path, "is a directory");
    if (!found.stat) throw toolFailure(path, "no such file");
    // Check before opening: opening a device can itself have effects.
    assertPlainFile(path, found.stat);
    if (found.stat.size > maxBytes) throw readTooLarge(path, found.stat.size, maxBytes);
    file = await open(at(found.dir, found.name), READ_FLAGS);
    // And again on what was actually opened: the entry may have been swapped since the lstat.
    // (Independent steps run concurrently: the thread pool makes them one round trip.)
    const [stat, inside] = await Promise.all([file.stat(), isInside(call.root, file)]);
    assertPlainFile(path, stat);
    if (!inside) throw symlinkEscapes(path, call.root.grant.volume);
    if (stat.size > maxBytes) throw readTooLarge(path, stat.size, maxBytes);
    const bytes = await readBounded(file, stat.size, maxBytes, path);
    return encoding === "utf8" ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8") : bytes;
  } finally {
    await Promise.all([file?.close(), found.dir.close()]);
  }
}

/**
 * Reads the `size` bytes fstat reported (a snapshot: a file that grows while
 * read is cut at its size at open time, which saves the extra EOF read). A
 * file that reports size 0 (procfs-like, or being written) is read to EOF, and
 * refused rather than truncated if it passes maxBytes.
 */
async function readBounded(file: FileHandle, size: number, maxBytes: number, path: string): Promise<Uint8Array> {
  let buffer = Buffer.allocUnsafeSlow(Math.min(size, maxBytes) + 1);
  let length = 0;
  while (size === 0 || length < size) {
    if (length === buffer.length) {
      if (length > maxBytes) throw readTooLarge(path, length, maxBytes);
      const grown = Buffer.allocUnsafeSlow(Math.min(buffer.length * 2, maxBytes + 1));
      buffer.copy(grown, 0, 0, length);
      buffer = grown;
    }
    const { bytesRead } = await file.read(buffer, length, buffer.length - length, length);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  if (length > maxBytes) throw readTooLarge(path, length, maxBytes);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
}
