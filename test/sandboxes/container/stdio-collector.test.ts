/** Docker's multiplexed attach stream, read back into a bounded result and bounded log lines. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { StdioCollector, STDERR_LINE_MAX } from "../../../sandboxes/container/stdio-collector.js";
import { parseToolResult } from "../../../sandboxes/container/tool-result.js";

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, "utf8");
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

test("frames split at any byte boundary are reassembled, stdout and stderr apart", () => {
  const lines: string[] = [];
  const collector = new StdioCollector();
  collector.setLineSink((l) => lines.push(l));
  const wire = Buffer.concat([frame(2, "log one\nlog "), frame(1, '{"output":'), frame(2, "two\n"), frame(1, '"grüße"}')]);
  for (let i = 0; i < wire.length; i += 3) collector.push(wire.subarray(i, i + 3));
  collector.end();
  assert.equal(collector.stdoutText(), '{"output":"grüße"}');
  assert.deepEqual(lines, ["log one", "log two"]);
});

test("stdout past the limit fires onOverflow once and stops buffering", () => {
  const collector = new StdioCollector();
  let overflows = 0;
  collector.stdoutLimit = 100;
  collector.onOverflow = () => (overflows += 1);
  for (let i = 0; i < 10; i++) collector.push(frame(1, "x".repeat(50)));
  assert.equal(overflows, 1);
  assert.equal(collector.stdoutText(), "");
});

test("stderr written before the call starts is kept and relayed when the call attaches", () => {
  const collector = new StdioCollector();
  collector.push(frame(2, "booting\n"));
  const lines: string[] = [];
  collector.setLineSink((l) => lines.push(l));
  assert.deepEqual(lines, ["booting"]);
});

test("a huge stderr line without newline is cut, not buffered without bound", () => {
  const lines: string[] = [];
  const collector = new StdioCollector();
  collector.setLineSink((l) => lines.push(l));
  collector.push(frame(2, "y".repeat(STDERR_LINE_MAX * 3)));
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.length < STDERR_LINE_MAX + 20);
  assert.match(lines[0]!, /\[cut\]$/);
});

test("the result is one JSON object with output or error; anything else is not a result", () => {
  assert.deepEqual(parseToolResult('{"output":{"a":1}}\n'), { kind: "output", output: { a: 1 } });
  assert.deepEqual(parseToolResult("noise\n{\"output\":2}"), { kind: "output", output: 2 });
  assert.deepEqual(parseToolResult('{"error":{"message":"nope"}}'), { kind: "error", message: "nope" });
  assert.deepEqual(parseToolResult(""), { kind: "none" });
  assert.equal(parseToolResult("[1,2]").kind, "invalid");
  assert.equal(parseToolResult('{"result":1}').kind, "invalid");
  assert.equal(parseToolResult('{"output":').kind, "invalid");
});
