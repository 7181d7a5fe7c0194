import { sign, verify, type KeyObject } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "../canonical-json.js";
import type { ChainHead } from "../types.js";

/** `{seq, hash, ts, serverId, sig}` (SPEC §10): the chain's head, signed. */
export const CheckpointSchema = z.strictObject({
  seq: z.number().int().min(1),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  ts: z.string().min(1),
  serverId: z.string().min(1),
  sig: z.string().min(1),
});
export type Checkpoint = z.infer<typeof CheckpointSchema>;

/**
 * The signed bytes. The prefix keeps a signature made for a checkpoint from
 * ever being valid for anything else signed with the same key (and the other
 * way round); canonical JSON makes the bytes a pure function of the fields.
 */
const DOMAIN = "mcp-warden audit checkpoint v1\n";

function signedBytes(fields: Omit<Checkpoint, "sig">): Buffer {
  return Buffer.from(DOMAIN + canonicalJson({ seq: fields.seq, hash: fields.hash, ts: fields.ts, serverId: fields.serverId }), "utf8");
}

export function signCheckpoint(head: ChainHead, serverId: string, key: KeyObject, now = new Date()): Checkpoint {
  const fields = { seq: head.seq, hash: head.hash, ts: now.toISOString(), serverId };
  return { ...fields, sig: sign(null, signedBytes(fields), key).toString("base64") };
}

export function checkpointSignatureValid(checkpoint: Checkpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, signedBytes(checkpoint), publicKey, Buffer.from(checkpoint.sig, "base64"));
  } catch {
    return false;
  }
}

/** One line of a checkpoint file / the body of a webhook POST / the stdin of a command. */
export function checkpointLine(checkpoint: Checkpoint): string {
  return canonicalJson(checkpoint);
}
