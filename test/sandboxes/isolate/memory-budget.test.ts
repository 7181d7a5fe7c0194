/**
 * Issue #16 item 1: memory outside the V8 heap (resizable ArrayBuffers, ICU
 * objects) escaped isolated-vm's memoryLimit and outlived the call. Every path
 * to such memory is closed or counted; the worker's memory stays bounded.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import { ECHO_SOURCE, runTool, toolInTempDir } from "./tool-in-temp-dir.js";

const MB = 1024 * 1024;
const workerRssMb = (pids: number[]) =>
  Math.max(...pids.map((pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024));

const grow = (how: string) => `export default async function run() {
  ${how}
  new Uint8Array(ab).fill(7);
  globalThis.keep = ab;
  return { len: ab.byteLength };
}`;

const ATTACKS: Record<string, string> = {
  "ArrayBuffer with maxByteLength, then resize": grow(`const ab = new ArrayBuffer(0, { maxByteLength: 2 ** 32 }); ab.resize(${256 * MB});`),
  "ArrayBuffer created at full size with maxByteLength": grow(`const ab = new ArrayBuffer(${256 * MB}, { maxByteLength: ${256 * MB} });`),
  "resizable buffer grown by transfer()": grow(`const ab = new ArrayBuffer(8, { maxByteLength: 2 ** 32 }).transfer(${256 * MB});`),
  "the constructor reached through a typed array's buffer": grow(`const AB = new Uint8Array(1).buffer.constructor; const ab = new AB(0, { maxByteLength: 2 ** 32 }); ab.resize(${256 * MB});`),
  "a subclass of ArrayBuffer": grow(`class Big extends ArrayBuffer {} const ab = new Big(0, { maxByteLength: 2 ** 32 }); ab.resize(${256 * MB});`),
  "Reflect.construct with a foreign new.target": grow(`const ab = Reflect.construct(ArrayBuffer, [0, { maxByteLength: 2 ** 32 }], function () {}.bind()); ab.resize(${256 * MB});`),
  "a fixed buffer past the budget": grow(`const ab = new ArrayBuffer(${256 * MB});`),
  "a fixed buffer grown by transfer()": grow(`const ab = new ArrayBuffer(8).transfer(${256 * MB});`),
  "200k Intl.Segmenter objects (ICU memory outside the heap)": `export default async function run() {
    const keep = []; for (let i = 0; i < 200000; i++) keep.push(new Intl.Segmenter("en", { granularity: "word" }).segment("a b " + i));
    globalThis.keep = keep; return { n: keep.length };
  }`,
};

describe("memory outside the V8 heap counts against the budget or is unavailable", () => {
  let executor: IsolateExecutor;
  before(async () => {
    executor = createIsolateExecutor({ workers: 1 });
    await executor.ready();
  });
  after(() => executor.close());

  for (const [name, source] of Object.entries(ATTACKS)) {
    test(`${name}: refused under memoryMb 32, and the worker does not keep the memory`, async () => {
      const tool = toolInTempDir(source, { memoryMb: 32 });
      for (let i = 0; i < 3; i++) {
        const outcome = await runTool(executor, tool);
        assert.equal(outcome.ok, false, `the tool got its memory: ${JSON.stringify(outcome)}`);
        if (!outcome.ok) assert.ok(["E_MEMORY", "E_TOOL_FAILED"].includes(outcome.error.code), outcome.error.message);
      }
      assert.ok(workerRssMb(executor.workerPids()) < 400, `worker RSS ${workerRssMb(executor.workerPids())} MB`);
      assert.equal((await runTool(executor, toolInTempDir(ECHO_SOURCE), { x: 1 })).ok, true);
    });
  }

  test("plain ArrayBuffers and typed arrays within the budget still work", async () => {
    const tool = toolInTempDir(`export default async function run() {
      const ab = new ArrayBuffer(1024); const sub = class extends ArrayBuffer {}; const s = new sub(16);
      const t = new Uint8Array(4).buffer.transfer(8);
      return { a: ab.byteLength, s: s.byteLength, sub: s instanceof ArrayBuffer, t: t.byteLength, view: ArrayBuffer.isView(new Uint8Array(1)), same: new Uint8Array(1).buffer.constructor === ArrayBuffer, resizable: ab.resizable };
    }`);
    const outcome = await runTool(executor, tool);
    assert.deepEqual(outcome.ok && outcome.output, { a: 1024, s: 16, sub: true, t: 8, view: true, same: true, resizable: false });
  });
});
