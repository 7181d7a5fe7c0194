import { open, type FileHandle } from "node:fs/promises";

/** Writes every byte (a short write is retried, never silently dropped) and then fdatasyncs. */
export async function writeAndSync(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
    if (bytesWritten <= 0) throw Object.assign(new Error("write made no progress"), { code: "EIO" });
    offset += bytesWritten;
  }
  await handle.datasync();
}

/** fsync of the directory: makes a create or rename itself survive a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
