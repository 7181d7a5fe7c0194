import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { canonicalJson, type AuditRecord } from "../../src/audit/index.js";
import { sealRecord } from "../../src/audit/chain.js";
import { runCli } from "../../src/cli/main.js";
import { checkpointedLog } from "../audit/checkpoint/checkpoint-fixtures.js";

async function run(argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr, out: stdout + stderr };
}

interface CheckpointLine {
  seq: number;
  hash: string;
  ts: string;
  serverId: string;
  sig: string;
}

async function readJsonLines<T>(file: string): Promise<T[]> {
  return (await readFile(file, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as T);
}

async function writeJsonLines(file: string, items: unknown[]): Promise<void> {
  await writeFile(file, items.map((i) => `${canonicalJson(i)}\n`).join(""));
}

const verifyArgs = (ws: { auditFile: string; checkpointFile: string; key: { publicKeyFile: string } }) => [
  "audit", "verify", ws.auditFile, "--checkpoints", ws.checkpointFile, "--pubkey", ws.key.publicKeyFile,
];

describe("warden audit verify --checkpoints", () => {
  test("an intact chain and its checkpoints: exit 0 with the number of records and checkpoints", async () => {
    const ws = await checkpointedLog(6);
    const checkpoints = await readJsonLines<CheckpointLine>(ws.checkpointFile);
    assert.ok(checkpoints.length >= 3, `every 2 records + shutdown, got ${checkpoints.length}`);
    assert.equal(checkpoints.at(-1)!.seq, 6, "the shutdown checkpoint covers the last record");
    assert.equal(checkpoints.at(-1)!.serverId, "test-server");
    const { code, stdout } = await run(verifyArgs(ws));
    assert.equal(code, 0);
    assert.equal(stdout.trim(), `ok: 6 records and ${checkpoints.length} checkpoints verified; the chain reaches seq 6`);
    // The one-line form keygen prints works as --pubkey too.
    assert.equal((await run([...verifyArgs(ws).slice(0, -1), ws.key.publicKeyLine])).code, 0);
  });

  test("a tail cut after a checkpoint: exit 1 naming the first missing seq; without checkpoints the chain alone still says ok", async () => {
    const ws = await checkpointedLog(6);
    const lines = (await readFile(ws.auditFile, "utf8")).split("\n").filter(Boolean);
    await writeFile(ws.auditFile, lines.slice(0, 3).map((l) => `${l}\n`).join(""));

    const withCheckpoints = await run(verifyArgs(ws));
    assert.equal(withCheckpoints.code, 1);
    assert.match(withCheckpoints.stderr, /^BROKEN at seq 4: the chain ends at seq 3 but a checkpoint .* covers seq \d+: records from seq 4 are missing \(tail cut\)/);

    const chainOnly = await run(["audit", "verify", ws.auditFile]);
    assert.equal(chainOnly.code, 0, "documented limit of a keyless chain (docs/threat-model.md)");
    assert.match(chainOnly.stdout, /^ok: 3 records verified/);
  });

  test("a chain rewritten from record k on with valid hashes: exit 1", async () => {
    const ws = await checkpointedLog(6);
    const records = await readJsonLines<AuditRecord>(ws.auditFile);
    const k = 3;
    let prev = records[k - 2]!.hash;
    const rewritten = records.slice(0, k - 1).map((r) => canonicalJson(r));
    for (const r of records.slice(k - 1)) {
      const { seq, prev: _p, hash: _h, ...entry } = r;
      const sealed = sealRecord({ ...entry, outcome: "error", errorCode: "E_TOOL_FAILED" }, seq, prev);
      prev = sealed.record.hash;
      rewritten.push(sealed.line);
    }
    await writeFile(ws.auditFile, rewritten.map((l) => `${l}\n`).join(""));
    assert.equal((await run(["audit", "verify", ws.auditFile])).code, 0, "the rewritten chain is internally valid");

    const checkpoints = await readJsonLines<CheckpointLine>(ws.checkpointFile);
    const firstAffected = checkpoints.find((c) => c.seq >= k)!.seq;
    const result = await run(verifyArgs(ws));
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^BROKEN at seq ${firstAffected}: seq ${firstAffected} differs from the checkpoint`));
  });

  test("a checkpoint whose hash or seq was edited, or that was signed with another key, or reordered: exit 1", async () => {
    const ws = await checkpointedLog(6);
    const original = await readJsonLines<CheckpointLine>(ws.checkpointFile);
    const records = await readJsonLines<AuditRecord>(ws.auditFile);

    // hash edited to another record's real hash
    await writeJsonLines(ws.checkpointFile, original.map((c, i) => (i === 0 ? { ...c, hash: records[0]!.hash } : c)));
    let result = await run(verifyArgs(ws));
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^BROKEN at seq ${original[0]!.seq}: checkpoint for seq ${original[0]!.seq} .* invalid signature`));

    // seq edited (pointing at an earlier, present record)
    await writeJsonLines(ws.checkpointFile, original.map((c, i) => (i === 1 ? { ...c, seq: c.seq - 1 } : c)));
    result = await run(verifyArgs(ws));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /invalid signature/);

    // a well-formed checkpoint signed with another key (over the right seq and hash)
    const other = generateKeyPairSync("ed25519").privateKey;
    const forged = { ...original[0]! };
    forged.sig = sign(null, Buffer.from(`mcp-warden audit checkpoint v1\n${canonicalJson({ seq: forged.seq, hash: forged.hash, ts: forged.ts, serverId: forged.serverId })}`), other).toString("base64");
    await writeJsonLines(ws.checkpointFile, [forged, ...original.slice(1)]);
    result = await run(verifyArgs(ws));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /signed with another key/);

    // reordered
    await writeJsonLines(ws.checkpointFile, [original[1]!, original[0]!, ...original.slice(2)]);
    result = await run(verifyArgs(ws));
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^BROKEN at seq ${original[0]!.seq}: .* comes after one for seq ${original[1]!.seq}: checkpoints reordered`));

    // and the untouched file passes: the failures above came from the edits
    await writeJsonLines(ws.checkpointFile, original);
    assert.equal((await run(verifyArgs(ws))).code, 0);
  });

  test("rotated files are part of the chain checked against the checkpoints", async () => {
    const ws = await checkpointedLog(12, {}, null, 2_000);
    const { readdir, unlink } = await import("node:fs/promises");
    const { dirname } = await import("node:path");
    const rotated = (await readdir(dirname(ws.auditFile))).filter((n) => /\.\d{12}-\d{12}$/.test(n));
    assert.ok(rotated.length >= 2, `expected rotation, got ${rotated.join(", ")}`);
    const ok = await run(verifyArgs(ws));
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.stdout, /^ok: 12 records and \d+ checkpoints verified/);
    // The whole current file deleted: the newest rotated file now ends the chain, short of the last checkpoint.
    await unlink(ws.auditFile);
    const lastRotatedSeq = Math.max(...rotated.map((n) => Number(n.slice(-12))));
    assert.equal((await run(["audit", "verify", ws.auditFile])).code, 0, "the chain alone cannot tell");
    const cut = await run(verifyArgs(ws));
    assert.equal(cut.code, 1);
    assert.match(cut.stderr, new RegExp(`^BROKEN at seq ${lastRotatedSeq + 1}: `));
  });

  test("a missing checkpoints file is a usage error naming it", async () => {
    const ws = await checkpointedLog(1);
    const result = await run(["audit", "verify", ws.auditFile, "--checkpoints", `${ws.checkpointFile}.nope`, "--pubkey", ws.key.publicKeyFile]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--checkpoints: cannot read .*\.nope \(ENOENT\)/);
  });

  test("--checkpoints without --pubkey is a usage error", async () => {
    const ws = await checkpointedLog(1);
    assert.equal((await run(["audit", "verify", ws.auditFile, "--checkpoints", ws.checkpointFile])).code, 2);
  });
});
