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
  /** What runs (SPEC §7): shown and diffed at re-approval. Optional so locks written before they existed still parse. */
  entry: z.string().optional(),
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  /** Container and mcp-server tools: the engine's image ID the approval is bound to. */
  imageId: z.string().optional(),
  approvedAt: z.string(),
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
  // Keys are tool names: "__proto__" cannot be one, so a lock cannot reach the prototype of the map it parses into.
  tools: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "keys are tool names"), ApprovalSchema),
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
  return { lockfileVersion: 1, tools: Object.assign(Object.create(null) as Lock["tools"], parsed.data.tools) };
}

/**
 * The approval of `name`, or undefined. Never `lock.tools[name]`: a tool
 * named "constructor" or "tostring" would find Object.prototype's members
 * there and be treated as approved-then-changed (or crash the reviewer).
 */
export function approvalOf(lock: Lock, name: string): Approval | undefined {
  return Object.hasOwn(lock.tools, name) ? lock.tools[name] : undefined;
}

/** A copy of the lock with `name` approved as `approval` (null-prototype map, like readLock's). */
export function withApproval(lock: Lock, name: string, approval: Approval): Lock {
  const tools = Object.assign(Object.create(null) as Lock["tools"], lock.tools);
  Object.defineProperty(tools, name, { value: approval, enumerable: true, writable: true, configurable: true });
  return { lockfileVersion: 1, tools };
}

/** Atomic replace: a crash mid-write never leaves a half-written lock. */
export async function writeLock(file: string, lock: Lock): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(lock, null, 2) + "\n", { mode: 0o644 });
  await rename(tmp, file);
}

/** What an approval records: the manifest's own declaration, bound to the digest. */
export function approvalFor(manifest: Manifest, digest: string, limits: Limits, now = new Date(), bound: { imageId?: string } = {}): Approval {
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
    ...(manifest.entry !== undefined ? { entry: manifest.entry } : {}),
    ...(manifest.image !== undefined ? { image: manifest.image } : {}),
    ...(manifest.command !== undefined ? { command: [...manifest.command] } : {}),
    ...(bound.imageId !== undefined ? { imageId: bound.imageId } : {}),
    approvedAt: now.toISOString(),
  };
}

export function isApproved(lock: Lock, name: string, digest: string): boolean {
  return approvalOf(lock, name)?.digest === digest;
}
