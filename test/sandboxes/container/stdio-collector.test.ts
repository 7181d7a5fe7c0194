/** Docker's multiplexed attach stream, read back into a bounded result and bounded log lines. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { StdioCollector, STDERR_LINE_MAX } from "../../../sandboxes/container/stdio-collector.js";
import { StdoutScanner } from "../../../sandboxes/container/stdout-scanner.js";
import type { ToolResult } from "../../../sandboxes/container/tool-result.js";

function parseToolResult(stdout: string): ToolResult {
  const collector = new StdioCollector();
  collector.push(frame(1, stdout));
  return collector.result();
}

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
  assert.deepEqual(collector.result(), { kind: "output", output: "grüße" });
  assert.deepEqual(lines, ["log one", "log two"]);
});

test("stdout past the limit fires onOverflow once and stops buffering", () => {
  const collector = new StdioCollector();
  let overflows = 0;
  collector.stdoutLimit = 100;
  collector.onOverflow = () => (overflows += 1);
  for (let i = 0; i < 10; i++) collector.push(frame(1, "x".repeat(50)));
  assert.equal(overflows, 1);
  assert.equal(collector.result().kind, "invalid");
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

test("progress objects before the result are relayed; the first other object is the result", () => {
  const collector = new StdioCollector();
  const progress: Array<[number, number | undefined]> = [];
  const results: ToolResult[] = [];
  collector.onProgress = (done, total) => progress.push([done, total]);
  collector.onResult = (r) => results.push(r);
  collector.push(frame(1, '{"progress": 1, "total": 3}\n{"progress":2}\n{"output":{"p":"{\\"progress\\":9}"}}\n{"progress":3}'));
  assert.deepEqual(progress, [[1, 3], [2, undefined]]);
  assert.deepEqual(results, [{ kind: "output", output: { p: '{"progress":9}' } }]);
  assert.equal(parseToolResult('{"progress":"x"}').kind, "invalid");
});

test("stdout is scanned once: a flood of chunks ending in } inside a string parses nothing until the object closes", () => {
  const collector = new StdioCollector();
  let results = 0;
  collector.onResult = () => (results += 1);
  const realParse = JSON.parse;
  let parses = 0;
  JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
    parses += 1;
    return realParse(text, reviver);
  }) as typeof JSON.parse;
  try {
    collector.push(frame(1, '{"output":"'));
    for (let i = 0; i < 2000; i++) collector.push(frame(1, "x".repeat(100) + "}"));
    assert.equal(parses, 0, "no parse while the object is open");
    collector.push(frame(1, '"}'));
  } finally {
    JSON.parse = realParse;
  }
  assert.equal(parses, 1, "exactly one parse, of exactly one object");
  assert.equal(results, 1);
  const scanned: string[] = [];
  const scanner = new StdoutScanner((b) => scanned.push(b.toString()));
  for (const part of ['{"a":"\\"}', '"}', ' {"b":[1,{"c":"]"}]}']) scanner.push(Buffer.from(part));
  assert.deepEqual(scanned, ['{"a":"\\"}"}', '{"b":[1,{"c":"]"}]}']);
});
