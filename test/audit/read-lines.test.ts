import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readLines, readLinesBackward, type FileLine } from "../../src/audit/read-lines.js";
import { tempDir } from "./audit-fixtures.js";

async function linesOf(content: Buffer | string): Promise<FileLine[]> {
  const file = join(await tempDir(), "lines");
  await writeFile(file, content);
  const out: FileLine[] = [];
  for await (const line of readLines(file)) out.push(line);
  return out;
}

describe("readLines", () => {
  test("a line longer than one read chunk comes back whole", async () => {
    const long = "x".repeat(1_500_000);
    const lines = await linesOf(`a\n${long}\nb\n`);
    assert.deepEqual(lines.map((l) => l.text.length), [1, long.length, 1]);
    assert.deepEqual(lines.map((l) => [l.start, l.end]), [[0, 2], [2, 2 + long.length + 1], [long.length + 3, long.length + 5]]);
  });

  test("trailing bytes without a newline are reported as unterminated, with their offset", async () => {
    const lines = await linesOf('{"a":1}\n{"b"');
    assert.deepEqual(lines.at(-1), { text: '{"b"', start: 8, end: 12, terminated: false });
  });

  test("byte offsets stay exact when a line is not valid UTF-8", async () => {
    const lines = await linesOf(Buffer.concat([Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from("ok\n")]));
    assert.deepEqual(lines.map((l) => [l.start, l.end]), [[0, 3], [3, 6]]);
  });

  test("a character device is read only up to its reported size (no endless read)", async () => {
    const out: FileLine[] = [];
    for await (const line of readLines("/dev/zero")) out.push(line);
    assert.deepEqual(out, []);
  });
});

describe("readLinesBackward", () => {
  test("gives exactly the lines of readLines, last first, across chunk boundaries, empty lines and a torn tail", async () => {
    const cases = [
      "",
      "a\n",
      "a",
      "\n\n",
      `one\n${"x".repeat(70_000)}\n\nthree\n`,
      `${"y".repeat(200_000)}\nz\n${"é".repeat(40_000)}`,
      "a\nb\n".repeat(30_000) + "torn",
    ];
    for (const content of cases) {
      const file = join(await tempDir(), "lines");
      await writeFile(file, content);
      const forward: FileLine[] = [];
      for await (const line of readLines(file)) forward.push(line);
      const backward: FileLine[] = [];
      for await (const line of readLinesBackward(file)) backward.push(line);
      assert.deepEqual(backward.reverse(), forward, `content of ${content.length} chars`);
    }
  });
});
