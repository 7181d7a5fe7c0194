import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { runCli } from "../../src/cli/main.js";
import { parsePublicKey } from "../../src/audit/index.js";

async function run(argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

const dir = await mkdtemp(join(tmpdir(), "warden-keygen-"));
after(() => rm(dir, { recursive: true, force: true }));

describe("warden audit keygen", () => {
  test("writes an Ed25519 private key with mode 0600 and <file>.pub, and prints the public key", async () => {
    const out = join(dir, "signing.key");
    const { code, stdout } = await run(["audit", "keygen", "--out", out]);
    assert.equal(code, 0);
    assert.equal((await stat(out)).mode & 0o777, 0o600);
    const privateKey = createPrivateKey(await readFile(out, "utf8"));
    assert.equal(privateKey.asymmetricKeyType, "ed25519");
    const publicKey = createPublicKey(await readFile(`${out}.pub`, "utf8"));
    const printed = parsePublicKey(stdout);
    const sig = sign(null, Buffer.from("x"), privateKey);
    assert.ok(verify(null, Buffer.from("x"), publicKey, sig), ".pub holds the matching public key");
    assert.ok(verify(null, Buffer.from("x"), printed, sig), "the printed line is the matching public key");
  });

  test("refuses to overwrite an existing key (or .pub) and leaves it untouched", async () => {
    const out = join(dir, "existing.key");
    await writeFile(out, "precious");
    const { code, stderr } = await run(["audit", "keygen", "--out", out]);
    assert.equal(code, 2);
    assert.match(stderr, /already exists; refusing to overwrite/);
    assert.equal(await readFile(out, "utf8"), "precious");

    const other = join(dir, "other.key");
    await writeFile(`${other}.pub`, "old pub");
    assert.equal((await run(["audit", "keygen", "--out", other])).code, 2);
    assert.equal(await readFile(`${other}.pub`, "utf8"), "old pub");
    await assert.rejects(stat(other), { code: "ENOENT" });
  });

  test("without --out it is a usage error", async () => {
    assert.equal((await run(["audit", "keygen"])).code, 2);
  });
});
