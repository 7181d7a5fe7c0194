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
