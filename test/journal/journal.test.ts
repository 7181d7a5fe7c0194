import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { pino } from "pino";
import { createJournal, pruneJournal } from "../../src/journal/index.js";
import { CANARY, treeListing, workspace } from "./fixtures/workspace.js";

function entriesOf(journalDir: string, callId: string): Array<Record<string, unknown>> {
  return readFileSync(join(journalDir, callId, "entries.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
}

function allJournalBytes(dir: string): string {
  let text = "";
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    if (statSync(path).isFile()) text += readFileSync(path, "latin1");
  }
  return text;
}

describe("rollback journal", () => {
  test("a path is recorded once per call: its state before the call's first change", async () => {
    const w = workspace();
    writeFileSync(join(w.ws, "a.txt"), "v0");
    await w.callOk("call-1", [
      { op: "writeFile", path: "/mnt/ws/a.txt", data: "v1" },
      { op: "writeFile", path: "/mnt/ws/a.txt", data: "v2" },
      { op: "writeFile", path: "/mnt/ws/a.txt", data: "v3" },
    ]);
    const entries = entriesOf(w.journalDir, "call-1");
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.path, "a.txt");
    assert.equal(entries[0]!.kind, "file");
    assert.equal(readFileSync(join(w.journalDir, "call-1", entries[0]!.blob as string), "utf8"), "v0");
    // Every change is in the global order, repeated ones too (a later call's repeat is a conflict).
    const calls = readFileSync(join(w.journalDir, "calls.jsonl"), "utf8").trim().split("\n");
    assert.equal(calls.length, 3);
  });

  test("a path the call created is recorded as absent, and everything below an rm -r as one subtree", async () => {
    const w = workspace();
    mkdirSync(join(w.ws, "t", "u"), { recursive: true });
    writeFileSync(join(w.ws, "t", "u", "f"), "f");
    await w.callOk("call-1", [
      { op: "writeFile", path: "/mnt/ws/new.txt", data: "n" },
      { op: "rm", path: "/mnt/ws/t", recursive: true },
    ]);
    const entries = entriesOf(w.journalDir, "call-1");
    assert.deepEqual(entries.map((e) => [e.path, e.kind, e.subtree ?? false]), [
      ["new.txt", "absent", false],
      ["t", "dir", true],
      ["t/u", "dir", false],
      ["t/u/f", "file", false],
    ]);
    assert.equal(new Set(entries.slice(1).map((e) => e.group)).size, 1, "the subtree is one group");
  });

  test("the journal bound refuses a change before it happens, and says which setting raises it", async () => {
    const w = workspace({ maxBytes: 8192 });
    writeFileSync(join(w.ws, "big.txt"), "x".repeat(20_000));
    mkdirSync(join(w.ws, "tree"));
    for (let i = 0; i < 5; i++) writeFileSync(join(w.ws, "tree", `f${i}`), "y".repeat(3000));
    const before = treeListing(w.ws);
    const used = await w.journal.usedBytes();

    const [write, rm] = await w.call("call-1", [
      { op: "writeFile", path: "/mnt/ws/big.txt", data: "small" },
      { op: "rm", path: "/mnt/ws/tree", recursive: true },
    ]);
    for (const r of [write!, rm!]) {
      assert.equal(r.ok, false);
      assert.equal(r.error!.code, "E_CAPABILITY_DENIED");
      assert.match(r.error!.message, /the rollback journal is full .*journal\.maxBytes/);
      assert.ok(!r.error!.message.includes(w.base), "no host path in the tool's message");
    }
    assert.deepEqual(treeListing(w.ws), before, "nothing changed");
    assert.equal(await w.journal.usedBytes(), used, "the refused captures left nothing behind");
    assert.deepEqual(readdirSync(join(w.journalDir, "call-1")).filter((n) => n.endsWith(".blob")), []);

    // Small changes still fit.
    await w.callOk("call-2", [{ op: "writeFile", path: "/mnt/ws/small.txt", data: "ok" }]);
  });

  test("special files cannot be journaled, so removing one (or a folder holding one) is refused", async () => {
    const w = workspace();
    mkdirSync(join(w.ws, "d"));
    execFileSync("mkfifo", [join(w.ws, "d", "pipe")]);
    const before = treeListing(w.ws);
    const [single, tree] = await w.call("call-1", [
      { op: "rm", path: "/mnt/ws/d/pipe" },
      { op: "rm", path: "/mnt/ws/d", recursive: true },
    ]);
    for (const r of [single!, tree!]) {
      assert.equal(r.ok, false);
      assert.equal(r.error!.code, "E_CAPABILITY_DENIED");
      assert.match(r.error!.message, /\/mnt\/ws\/d\/pipe is a fifo, which the rollback journal cannot record/);
    }
    assert.deepEqual(treeListing(w.ws), before);
  });

  test("links are recorded as links: a link out of the volume is never followed into the journal", async () => {
    const w = workspace();
    symlinkSync(w.evil, join(w.ws, "out"));
    mkdirSync(join(w.ws, "d"));
    symlinkSync(join(w.evil, "canary.txt"), join(w.ws, "d", "c"));
    const before = treeListing(w.ws);
    await w.callOk("call-1", [
      { op: "rm", path: "/mnt/ws/out" },
      { op: "rm", path: "/mnt/ws/d", recursive: true },
    ]);
    assert.ok(!allJournalBytes(w.journalDir).includes(CANARY), "the canary's content never reached the journal");
    assert.deepEqual(entriesOf(w.journalDir, "call-1").filter((e) => e.kind === "symlink").map((e) => e.target), [w.evil, join(w.evil, "canary.txt")]);
    assert.equal((await w.rollback("call-1")).code, 0);
    assert.deepEqual(treeListing(w.ws), before);
  });

  test("a write through an in-volume link journals (and restores) the file it reaches; the link stays a link", async () => {
    const w = workspace();
    writeFileSync(join(w.ws, "real.txt"), "real v0");
    symlinkSync("real.txt", join(w.ws, "alias"));
    const before = treeListing(w.ws);
    await w.callOk("call-1", [{ op: "writeFile", path: "/mnt/ws/alias", data: "through the alias" }]);
    assert.deepEqual(entriesOf(w.journalDir, "call-1").map((e) => e.path), ["real.txt"]);
    assert.equal((await w.rollback("call-1")).code, 0);
    assert.deepEqual(treeListing(w.ws), before);
  });

  test("concurrent operations of one call are journaled in order, each path once", async () => {
    const w = workspace();
    for (let i = 0; i < 8; i++) writeFileSync(join(w.ws, `f${i}`), `v0-${i}`);
    const before = treeListing(w.ws);
    const j = w.journal.forCall("call-1", "notes_tool");
    const { createVolumeFs } = await import("../../src/capabilities/filesystem/index.js");
    const fs = createVolumeFs({ tool: "notes_tool", volumes: [{ volume: "ws", access: "read-write", hostPath: w.ws }], onFileOp: () => {}, beforeMutation: j.beforeMutation });
    const results = await Promise.all(Array.from({ length: 32 }, (_, i) => j.around(() => fs({ op: "writeFile", path: `/mnt/ws/f${i % 8}`, data: `new-${i}` }))));
    assert.ok(results.every((r) => r.ok));
    assert.equal(entriesOf(w.journalDir, "call-1").length, 8);
    assert.equal((await w.rollback("call-1")).code, 0);
    assert.deepEqual(treeListing(w.ws), before);
  });

  test("a reused callId is refused rather than mixing two calls' pre-images", async () => {
    const w = workspace();
    await w.callOk("call-1", [{ op: "writeFile", path: "/mnt/ws/a", data: "1" }]);
    const [again] = await w.call("call-1", [{ op: "writeFile", path: "/mnt/ws/b", data: "2" }]);
    assert.equal(again!.ok, false);
    assert.equal(existsSync(join(w.ws, "b")), false);
  });
});

describe("journal retention", () => {
  test("call folders older than retainDays are pruned, logged, and can no longer be rolled back", async () => {
    const w = workspace();
    await w.callOk("call-old", [{ op: "writeFile", path: "/mnt/ws/old.txt", data: "o" }]);
    await w.callOk("call-new", [{ op: "writeFile", path: "/mnt/ws/new.txt", data: "n" }]);
    const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000);
    utimesSync(join(w.journalDir, "call-old"), tenDaysAgo, tenDaysAgo);
    const usedBefore = await w.journal.usedBytes();

    const result = await w.journal.prune(7);
    assert.deepEqual(result.removed, ["call-old"]);
    assert.ok(result.freedBytes > 0);
    assert.equal(await w.journal.usedBytes(), usedBefore - result.freedBytes);
    assert.equal(existsSync(join(w.journalDir, "call-old")), false);
    assert.ok(!readFileSync(join(w.journalDir, "calls.jsonl"), "utf8").includes("call-old"));
    const logged = w.logLines.find((l) => l.event === "journal.pruned");
    assert.deepEqual(logged?.calls, ["call-old"]);

    const gone = await w.rollback("call-old");
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no journal for call call-old/);
    assert.equal((await w.rollback("call-new")).code, 0);
  });

  test("pruneJournal alone (no journal open) keeps recent calls and logs nothing when nothing is old", async () => {
    const w = workspace();
    await w.callOk("call-1", [{ op: "writeFile", path: "/mnt/ws/x", data: "x" }]);
    const lines: unknown[] = [];
    const logger = pino({ level: "trace" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    assert.deepEqual((await pruneJournal(w.journalDir, 1, logger)).removed, []);
    assert.deepEqual(lines, []);
    assert.deepEqual((await pruneJournal(w.journalDir, 1, logger, Date.now() + 2 * 86_400_000)).removed, ["call-1"]);
    assert.equal(lines.length, 1);
    assert.deepEqual((await pruneJournal(join(w.base, "missing"), 1, logger)).removed, []);
  });

  test("createJournal rejects a bound that is not a positive integer", () => {
    assert.throws(() => createJournal({ dir: "/tmp/x", volumes: {}, maxBytes: 0, logger: pino({ level: "silent" }) }), { code: "E_CONFIG" });
  });
});
