import assert from "node:assert/strict";
import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseConfigText } from "../../../src/config/load.js";
import { tempDir } from "../audit-fixtures.js";

async function load(checkpoint: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const dir = await tempDir();
  await mkdir(join(dir, "logs"));
  await mkdir(join(dir, "data"));
  await mkdir(join(dir, "anchor"));
  const config = { tools: ["./tools/*"], audit: { file: "./logs/audit.jsonl", checkpoint }, volumes: { data: { path: "./data" } }, ...extra };
  return { dir, load: () => parseConfigText(join(dir, "warden.config.json"), JSON.stringify(config)) };
}

describe("audit.checkpoint in the config", () => {
  test("paths resolve against the config folder and defaults are filled", async () => {
    const { dir, load: run } = await load({ key: "./secrets/signing.key", sink: { file: "./anchor/cp.jsonl" } });
    const { config } = run();
    assert.deepEqual(config.audit.checkpoint, { every: 100, intervalSec: 60, alertAfterSec: 30, key: join(dir, "secrets", "signing.key"), sink: { file: join(dir, "anchor", "cp.jsonl") } });
  });

  test("a sink file inside the audit folder is refused at load, naming the path and the fix", async () => {
    const { load: run } = await load({ key: "./k", sink: { file: "./logs/checkpoints.jsonl" } });
    assert.throws(run, { code: "E_CONFIG", message: /audit\.checkpoint\.sink\.file: .*checkpoints\.jsonl is inside the audit folder .*fix: put it on another mount/ });
  });

  test("a sink file inside a tool volume is refused (a tool could rewrite it)", async () => {
    const { load: run } = await load({ key: "./k", sink: { file: "./data/cp.jsonl" } });
    assert.throws(run, { code: "E_CONFIG", message: /inside volume "data"/ });
  });

  test("a symlink cannot smuggle the sink file into the audit folder", async () => {
    const { dir, load: run } = await load({ key: "./k", sink: { file: "./innocent/cp.jsonl" } });
    await symlink(join(dir, "logs"), join(dir, "innocent"));
    assert.throws(run, { code: "E_CONFIG", message: /inside the audit folder/ });
  });

  test("the signing key inside a tool volume is refused (a tool could read it and forge checkpoints)", async () => {
    const { load: run } = await load({ key: "./data/signing.key", sink: { webhook: "https://anchor.example/cp" } });
    assert.throws(run, { code: "E_CONFIG", message: /audit\.checkpoint\.key: .* is inside volume "data"/ });
  });

  test("a missing or non-Ed25519 signing key stops the start with E_CONFIG", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const { writeFile } = await import("node:fs/promises");
    const { openAuditLog, startCheckpointer } = await import("../../../src/audit/index.js");
    const { captureLogger } = await import("../audit-fixtures.js");
    const dir = await tempDir();
    const { logger } = captureLogger();
    const log = await openAuditLog(join(dir, "audit.jsonl"), { logger });
    const config = { every: 1, intervalSec: 60, sink: { file: join(dir, "..", "cp.jsonl") } };
    await assert.rejects(startCheckpointer({ log, logger, config: { ...config, key: join(dir, "missing.key") } }), { code: "E_CONFIG", message: /cannot read .*missing\.key.*warden audit keygen/ });
    const rsa = join(dir, "rsa.key");
    await writeFile(rsa, generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }));
    await assert.rejects(startCheckpointer({ log, logger, config: { ...config, key: rsa } }), { code: "E_CONFIG", message: /is a rsa key, not Ed25519/ });
    await log.close();
  });

  test("a signing key readable by group or others is logged at start (a 0600 key is not)", async () => {
    const { chmod } = await import("node:fs/promises");
    const { generateSigningKey, openAuditLog, startCheckpointer } = await import("../../../src/audit/index.js");
    const { captureLogger } = await import("../audit-fixtures.js");
    const dir = await tempDir();
    const key = await generateSigningKey(join(dir, "signing.key"));
    const { logger, lines } = captureLogger();
    const log = await openAuditLog(join(dir, "audit", "audit.jsonl"), { logger });
    const config = { every: 1, intervalSec: 60, key: key.privateKeyFile, sink: { file: join(dir, "cp.jsonl") } };
    await (await startCheckpointer({ log, logger, config })).close();
    assert.equal(lines.filter((l) => l.event === "audit.checkpoint_key_mode").length, 0);
    await chmod(key.privateKeyFile, 0o644);
    await (await startCheckpointer({ log, logger, config })).close();
    assert.equal(lines.find((l) => l.event === "audit.checkpoint_key_mode")?.level, "warn");
    await log.close();
  });

  test("a checkpoint without any sink is a config error", async () => {
    const { load: run } = await load({ key: "./k", sink: {} });
    assert.throws(run, { code: "E_CONFIG", message: /sink needs at least one of file, webhook, command/ });
  });
});
