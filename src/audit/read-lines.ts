import { open } from "node:fs/promises";

export interface FileLine {
  text: string;
  /** Byte offset where the line starts. */
  start: number;
  /** Byte offset just past the line and its "\n" (exact even when the bytes are not valid UTF-8). */
  end: number;
  /** false for trailing bytes with no "\n": a write cut short by a crash. */
  terminated: boolean;
}

const CHUNK_BYTES = 1 << 20;

/**
 * Streams the lines of a file, reading only the size it had when opened: a
 * character device such as /dev/full reports size 0 and would otherwise
 * return bytes forever.
 */
export async function* readLines(file: string): AsyncGenerator<FileLine> {
  const handle = await open(file, "r");
  try {
    const size = (await handle.stat()).size;
    let carry = Buffer.alloc(0);
    let carryStart = 0;
    let position = 0;
    while (position < size) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size - position));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      let data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let lineStart = 0;
      for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, lineStart)) {
        yield { text: data.toString("utf8", lineStart, nl), start: carryStart + lineStart, end: carryStart + nl + 1, terminated: true };
        lineStart = nl + 1;
      }
      carryStart += lineStart;
      data = data.subarray(lineStart);
      carry = Buffer.from(data);
    }
    if (carry.length > 0) yield { text: carry.toString("utf8"), start: carryStart, end: carryStart + carry.length, terminated: false };
  } finally {
    await handle.close();
  }
}

const FIRST_BACKWARD_CHUNK_BYTES = 64 * 1024;

/**
 * The lines of a file from the last to the first, reading only as far back
 * as the caller iterates: reopening a 200 MB log needs its last record, not
 * its whole text (issue 11). Trailing bytes with no "\n" come first, as
 * `terminated: false`. Reads grow from 64 KiB to 1 MiB, and the pieces of a
 * long line are joined once (not re-copied per read).
 */
export async function* readLinesBackward(file: string): AsyncGenerator<FileLine> {
  const handle = await open(file, "r");
  try {
    const size = (await handle.stat()).size;
    let pieces: Buffer[] = []; // the current segment's bytes after `position`, in file order
    let segmentEnd = size; // end (exclusive, before its "\n") of the segment being assembled
    let terminated = false; // whether that segment ends in "\n"
    let position = size;
    let chunkBytes = FIRST_BACKWARD_CHUNK_BYTES;
    while (position > 0) {
      const length = Math.min(chunkBytes, position);
      chunkBytes = Math.min(chunkBytes * 2, CHUNK_BYTES);
      const chunk = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(chunk, 0, length, position - length);
      if (bytesRead !== length) throw Object.assign(new Error(`${file} shrank while being read`), { code: "EIO" });
      position -= length;
      let end = length; // the part of `chunk` not yet assigned to a segment is [0, end)
      while (end > 0) {
        const nl = chunk.lastIndexOf(0x0a, end - 1);
        if (nl === -1) break;
        const text = Buffer.concat([chunk.subarray(nl + 1, end), ...pieces]);
        if (terminated || text.length > 0) {
          yield { text: text.toString("utf8"), start: position + nl + 1, end: segmentEnd + (terminated ? 1 : 0), terminated };
        }
        pieces = [];
        terminated = true;
        segmentEnd = position + nl;
        end = nl;
      }
      if (end > 0) pieces.unshift(Buffer.from(chunk.subarray(0, end)));
    }
    const text = Buffer.concat(pieces);
    if (text.length > 0 || terminated) yield { text: text.toString("utf8"), start: 0, end: segmentEnd + (terminated ? 1 : 0), terminated };
  } finally {
    await handle.close();
  }
}
