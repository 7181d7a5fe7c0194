/**
 * Finds the end of each top-level JSON object on a tool's stdout in ONE pass
 * over the bytes (string and escape state carried across chunks), so each
 * object is parsed exactly once. Re-joining and re-parsing the whole buffer on
 * every chunk ending in "}" was quadratic: a flood of such chunks cost 17 s of
 * broker CPU and slowed every other tool's calls 40× (issue 17, item 7).
 */
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

export class StdoutScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private current: Buffer[] = [];
  private strayBytes = false;

  /** Called with the bytes of each complete top-level `{…}` (not yet parsed). */
  constructor(private readonly onObject: (bytes: Buffer) => void) {}

  /** Something other than whitespace was written outside every object. */
  get sawStray(): boolean {
    return this.strayBytes;
  }

  /** An object was started and never closed. */
  get unfinished(): boolean {
    return this.depth > 0;
  }

  push(bytes: Buffer): void {
    let start = this.depth > 0 ? 0 : -1;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.depth === 0) {
        if (b === OPEN_OBJECT) {
          this.depth = 1;
          start = i;
        } else if (!isSpace(b)) this.strayBytes = true;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
        continue;
      }
      if (b === QUOTE) this.inString = true;
      else if (b === OPEN_OBJECT || b === OPEN_ARRAY) this.depth += 1;
      else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        this.depth -= 1;
        if (this.depth === 0) {
          this.current.push(bytes.subarray(start, i + 1));
          const whole = Buffer.concat(this.current);
          this.current = [];
          start = -1;
          this.onObject(whole);
        }
      }
    }
    // The open object's bytes are copied once (the chunk's buffer may be reused by the stream).
    if (this.depth > 0 && start >= 0) this.current.push(Buffer.from(bytes.subarray(start)));
  }
}
