import { readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { WardenError } from "../errors.js";
import { EffectSchema, RuntimeSchema, type Manifest } from "../manifest/schema.js";
import type { Limits } from "../manifest/schema.js";

export const ApprovalSchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  digest: z.string(),
  runtime: RuntimeSchema,
  effect: EffectSchema,
  capabilities: z.strictObject({
    network: z.array(z.string()),
    filesystem: z.array(z.strictObject({ volume: z.string(), access: z.enum(["read", "read-write"]) })),
    env: z.array(z.string()),
  }),
  limits: z.record(z.string(), z.number()),
  approvedAt: z.string(),
  /** mcp-server / container: the image ID the approval is bound to. */
  imageId: z.string().optional(),
  /** mcp-server: each tool the server listed at approval, by its name there: sha256 of the canonical definition + the definition. */
  pins: z
    .record(
      z.string(),
      z.strictObject({
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        definition: z.looseObject({ name: z.string(), inputSchema: z.record(z.string(), z.unknown()) }),
      }),
    )
    .optional(),
});
export type Approval = z.infer<typeof ApprovalSchema>;

export const LockSchema = z.strictObject({
  lockfileVersion: z.literal(1),
  tools: z.record(z.string(), ApprovalSchema),
});
export type Lock = z.infer<typeof LockSchema>;

/** The lock file sits beside the config (SPEC §11). */
export function lockPathFor(configFile: string): string {
  return join(dirname(configFile), "warden.lock.json");
}

/** A missing lock means nothing is approved; a malformed one stops startup (never "everything approved"). */
export async function readLock(file: string): Promise<Lock> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { lockfileVersion: 1, tools: {} };
    throw new WardenError("E_CONFIG", `${file}: cannot read the lock file (${(err as NodeJS.ErrnoException).code})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new WardenError("E_CONFIG", `${file}: not valid JSON; fix: restore it from version control or delete it and re-approve every tool`);
  }
  const parsed = LockSchema.safeParse(raw);
  if (!parsed.success) throw new WardenError("E_CONFIG", `${file}: not a valid lock file (${parsed.error.issues[0]?.message}); fix: delete it and re-approve`);
  return parsed.data;
}

/** Atomic replace: a crash mid-write never leaves a half-written lock. */
export async function writeLock(file: string, lock: Lock): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(lock, null, 2) + "\n", { mode: 0o644 });
  await rename(tmp, file);
}

/** What an approval records: the manifest's own declaration, bound to the digest. */
export function approvalFor(manifest: Manifest, digest: string, limits: Limits, now = new Date()): Approval {
  const caps = manifest.capabilities ?? {};
  return {
    name: manifest.name,
    version: manifest.version,
    digest,
    runtime: manifest.runtime,
    effect: manifest.effect,
    capabilities: {
      network: [...(caps.network?.allow ?? [])],
      filesystem: (caps.filesystem ?? []).map((f) => ({ volume: f.volume, access: f.access })),
      env: [...(caps.env ?? [])],
    },
    limits: { ...limits },
    approvedAt: now.toISOString(),
  };
}

export function isApproved(lock: Lock, name: string, digest: string): boolean {
  return Object.hasOwn(lock.tools, name) && lock.tools[name]!.digest === digest;
}
