import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { open, readFile, stat } from "node:fs/promises";
import { WardenError } from "../../errors.js";

/** What `warden audit keygen` wrote. */
export interface GeneratedKey {
  privateKeyFile: string;
  publicKeyFile: string;
  /** SPKI PEM, as in the .pub file. */
  publicKeyPem: string;
  /** The same key on one line: `ed25519:<base64 of the 32 raw bytes>`. */
  publicKeyLine: string;
}

/**
 * A new Ed25519 key pair: the private key (PKCS#8 PEM) is created with mode
 * 0600 and never overwrites anything (`wx`), so a typo cannot destroy the key
 * that signed years of checkpoints.
 */
export async function generateSigningKey(out: string): Promise<GeneratedKey> {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const publicKeyFile = `${out}.pub`;
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  await writeNew(publicKeyFile, publicKeyPem, 0o644);
  try {
    await writeNew(out, privateKey.export({ type: "pkcs8", format: "pem" }).toString(), 0o600);
  } catch (err) {
    const { unlink } = await import("node:fs/promises");
    await unlink(publicKeyFile).catch(() => {});
    throw err;
  }
  return { privateKeyFile: out, publicKeyFile, publicKeyPem, publicKeyLine: publicKeyLine(publicKey) };
}

async function writeNew(file: string, text: string, mode: number): Promise<void> {
  let handle;
  try {
    handle = await open(file, "wx", mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new WardenError("E_CONFIG", `${file} already exists; refusing to overwrite a key (move it away or choose another --out)`);
    throw new WardenError("E_CONFIG", `cannot create ${file} (${code ?? (err as Error).message})`);
  }
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function publicKeyLine(key: KeyObject): string {
  const der = key.export({ type: "spki", format: "der" });
  return `ed25519:${der.subarray(der.length - 32).toString("base64")}`;
}

/** The signing key named by `audit.checkpoint.key`; a key others can read is logged, not refused (Docker secrets are 0444). */
export async function loadSigningKey(file: string): Promise<{ key: KeyObject; looseMode: boolean }> {
  let text: string;
  let mode: number;
  try {
    text = await readFile(file, "utf8");
    mode = (await stat(file)).mode;
  } catch (err) {
    throw new WardenError("E_CONFIG", `audit.checkpoint.key: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"}); fix: create it with "warden audit keygen --out ${file}"`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    throw new WardenError("E_CONFIG", `audit.checkpoint.key: ${file} is not a PEM private key; fix: create one with "warden audit keygen --out <file>"`);
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new WardenError("E_CONFIG", `audit.checkpoint.key: ${file} is a ${key.asymmetricKeyType ?? "unknown"} key, not Ed25519; fix: "warden audit keygen --out <file>"`);
  }
  return { key, looseMode: (mode & 0o077) !== 0 };
}

const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** `--pubkey`: a PEM (file or text), or `ed25519:<base64>` (the line keygen prints). */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (trimmed.startsWith("ed25519:")) {
      const raw = Buffer.from(trimmed.slice("ed25519:".length), "base64");
      if (raw.length !== 32) throw new Error("not 32 bytes");
      key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" });
    } else {
      key = createPublicKey(trimmed);
    }
  } catch {
    throw new WardenError("E_CONFIG", `--pubkey is neither a public key file, a PEM public key, nor "ed25519:<base64>"`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new WardenError("E_CONFIG", `--pubkey is a ${key.asymmetricKeyType ?? "unknown"} key, not Ed25519`);
  return key;
}
