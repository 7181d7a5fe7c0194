import assert from "node:assert/strict";
import { appendFile, open } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { WardenError } from "../../src/errors.js";
import { GroupCommitQueue } from "../../src/audit/group-commit.js";
import { readLinesOf, tempDir } from "./audit-fixtures.js";

/** A real commit (append + fdatasync on a temp file) that can be held open to make items pile up behind it. */
async function fileCommit() {
  const file = join(await tempDir(), "batches.log");
  const batches: string[][] = [];
  let hold: Promise<void> | null = null;
  let release = () => {};
  const commit = async (items: string[]) => {
    batches.push(items);
    if (hold) await hold;
    await appendFile(file, items.map((i) => `${i}\n`).join(""));
    const handle = await open(file, "r+");
    await handle.datasync();
    await handle.close();
  };
  const holdNext = () => {
    hold = new Promise((resolve) => (release = () => ((hold = null), resolve())));
  };
  return { file, batches, commit, holdNext, release: () => release() };
}

const toAuditError = (err: unknown) => new WardenError("E_AUDIT", `write failed: ${(err as Error).message}`);

describe("group commit", () => {
  test("a lone item is committed on its own, without waiting for company", async () => {
    const sink = await fileCommit();
    const queue = new GroupCommitQueue(sink.commit, toAuditError);
    await queue.enqueue("a");
    assert.deepEqual(sink.batches, [["a"]]);
    assert.deepEqual(await readLinesOf(sink.file), ["a"]);
  });

  test("items that arrive while a commit is in flight share the next single commit, in order", async () => {
    const sink = await fileCommit();
    const queue = new GroupCommitQueue(sink.commit, toAuditError);
    sink.holdNext();
    const first = queue.enqueue("first");
    await new Promise((resolve) => setImmediate(resolve)); // the first commit has started and is held
    const later = Array.from({ length: 16 }, (_, i) => queue.enqueue(`item-${i}`));
    sink.release();
    await Promise.all([first, ...later]);
    assert.deepEqual(sink.batches.map((b) => b.length), [1, 16]);
    assert.deepEqual(await readLinesOf(sink.file), ["first", ...Array.from({ length: 16 }, (_, i) => `item-${i}`)]);
  });

  test("items handed in during the same turn go into one commit", async () => {
    const sink = await fileCommit();
    const queue = new GroupCommitQueue(sink.commit, toAuditError);
    await Promise.all(["a", "b", "c"].map((i) => queue.enqueue(i)));
    assert.deepEqual(sink.batches, [["a", "b", "c"]]);
  });

  test("no item resolves before its commit has finished", async () => {
    const sink = await fileCommit();
    const queue = new GroupCommitQueue(sink.commit, toAuditError);
    sink.holdNext();
    let resolved = false;
    const done = queue.enqueue("x").then(() => (resolved = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(resolved, false);
    sink.release();
    await done;
    assert.deepEqual(await readLinesOf(sink.file), ["x"]);
  });

  test("a failed commit rejects its batch, the items queued behind it, and every later item with E_AUDIT", async () => {
    let gate = () => {};
    const held = new Promise<void>((resolve) => (gate = resolve));
    const queue = new GroupCommitQueue<string>(async () => {
      await held;
      throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
    }, toAuditError);
    const inFlight = queue.enqueue("a");
    await new Promise((resolve) => setImmediate(resolve));
    const queued = queue.enqueue("b");
    gate();
    await assert.rejects(inFlight, { code: "E_AUDIT", message: /ENOSPC/ });
    await assert.rejects(queued, { code: "E_AUDIT" });
    await assert.rejects(queue.enqueue("c"), { code: "E_AUDIT" });
    assert.equal(queue.failure?.code, "E_AUDIT");
  });

  test("the failed state is permanent even when the disk would accept writes again", async () => {
    const sink = await fileCommit();
    let calls = 0;
    const flaky = async (items: string[]) => {
      if (calls++ === 0) throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
      await sink.commit(items);
    };
    const queue = new GroupCommitQueue(flaky, toAuditError);
    await assert.rejects(queue.enqueue("lost"), { code: "E_AUDIT" });
    await assert.rejects(queue.enqueue("after"), { code: "E_AUDIT", message: /EIO/ });
    assert.equal(calls, 1, "nothing was written after the failure");
    assert.deepEqual(sink.batches, []);
  });
});
