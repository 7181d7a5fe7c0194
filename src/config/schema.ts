import { isIP } from "node:net";
import { z } from "zod";
import { EffectSchema, FilesystemGrantSchema, NetworkPatternSchema } from "../manifest/schema.js";

const NameSchema = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "tool names match ^[a-z][a-z0-9_]{0,63}$");
const HostPortSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "listen is host:port, e.g. 127.0.0.1:8787");

export const NetworkGrantEntrySchema = z.union([
  NetworkPatternSchema,
  z.strictObject({ host: NetworkPatternSchema, allowPrivate: z.boolean().optional() }),
]);

export const ToolGrantSchema = z.strictObject({
  network: z.array(NetworkGrantEntrySchema).optional(),
  filesystem: z.array(FilesystemGrantSchema).optional(),
  env: z.array(z.string()).optional(),
  /** The operator may raise a tool's effect class, never lower it. */
  effect: EffectSchema.optional(),
  /** Hosted MCP servers (SPEC §15): raise the effect of single tools, by their name on the server. Never lowers. */
  effects: z.record(z.string().max(128), EffectSchema).optional(),
});

export const TokenSchema = z.strictObject({
  name: z.string().min(1).max(64),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "sha256 is the lower-case hex sha256 of the token (echo -n TOKEN | sha256sum)"),
  allow: z.array(z.string()).optional(),
});

export const ConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  tools: z.array(z.string().min(1)).min(1),
  volumes: z.record(z.string(), z.strictObject({ path: z.string().min(1), maxBytes: z.number().int().positive().optional() })).default({}),
  secrets: z.record(z.string().regex(/^[A-Z][A-Z0-9_]{0,127}$/), z.strictObject({ env: z.string().min(1) })).default({}),
  grants: z.record(NameSchema, ToolGrantSchema).default({}),
  ceiling: z
    .strictObject({
      timeoutMs: z.number().int().positive().optional(),
      memoryMb: z.number().int().positive().optional(),
      outputBytes: z.number().int().positive().optional(),
      cpus: z.number().positive().optional(),
      pids: z.number().int().positive().optional(),
    })
    .default({}),
  confirm: z.array(EffectSchema).default(["destructive"]),
  /** How long a human has to answer a confirmation before the call is refused (E_NOT_CONFIRMED). */
  confirmTimeoutMs: z.number().int().min(100).max(3_600_000).default(120_000),
  disabled: z.array(z.string()).default([]),
  /** Per-actor auto-quarantine (SPEC §14): tool → actors it is switched off for. Written by the server, lifted by `warden enable`. */
  quarantined: z.record(NameSchema, z.array(z.string().min(1).max(64))).default({}),
  concurrency: z
    .strictObject({ maxInFlight: z.number().int().min(1).max(1024).default(16), maxQueue: z.number().int().min(0).max(100_000).default(64) })
    .default({ maxInFlight: 16, maxQueue: 64 }),
  isolate: z.strictObject({ workers: z.number().int().min(1).max(64).optional() }).default({}),
  container: z
    .strictObject({
      /** Warm containers always kept per container tool (the floor; 0 disables the pool). */
      poolSize: z.number().int().min(0).max(16).optional(),
      /** A tool's pool grows from its recent call rate up to this many warm containers (issue 13 §3). */
      poolMax: z.number().int().min(0).max(64).optional(),
      /** Warm containers (idle + starting) across all tools: bounds the engine's idle memory and PIDs. */
      poolTotal: z.number().int().min(1).max(256).optional(),
      /** OCI runtime of every container and mcp-server tool (SPEC §16): runc, or runsc (gVisor) registered with the engine. */
      runtime: z.enum(["runc", "runsc"]).default("runc"),
      /** Hosted MCP servers running at once (SPEC §15: one per session and server), in total and per identity. */
      maxHostedServers: z.number().int().min(1).max(1024).default(32),
      maxHostedServersPerIdentity: z.number().int().min(1).max(1024).default(8),
      /**
       * Where the egress proxy of networked container and hosted-server tools runs (issue 13 §2): "host" (in
       * warden's process, with host firewall rules; needs the engine on this host) or "container" (warden's
       * own hardened container beside the tools; any engine). Default: "host" with a local engine (unix
       * socket), "container" with a TCP DOCKER_HOST. The object form adds `refuse`: addresses or CIDRs no
       * tool may reach even with allowPrivate (a remote engine host's own addresses).
       */
      egress: z
        .union([
          z.enum(["host", "container"]),
          z.strictObject({
            mode: z.enum(["host", "container"]).optional(),
            refuse: z.array(z.string().max(64).refine(isAddressOrCidr, "must be an IP address or CIDR")).max(256).default([]),
          }),
        ])
        .optional(),
    })
    .refine((c) => c.poolMax === undefined || c.poolSize === undefined || c.poolMax >= c.poolSize, {
      message: "container.poolMax must be at least container.poolSize (poolSize is the floor, poolMax the ceiling)",
      path: ["poolMax"],
    })
    .default({ runtime: "runc", maxHostedServers: 32, maxHostedServersPerIdentity: 8 }),
  http: z
    .strictObject({
      listen: HostPortSchema.default("127.0.0.1:8787"),
      tokens: z
        .array(TokenSchema)
        .default([])
        .refine((t) => new Set(t.map((x) => x.name)).size === t.length, "token names must be unique (the name is the audited identity)")
        .refine((t) => new Set(t.map((x) => x.sha256)).size === t.length, "two tokens have the same sha256"),
      allowedOrigins: z.array(z.string()).default([]),
      allowedHosts: z.array(z.string()).optional(),
      maxBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
      maxSessions: z.number().int().min(1).max(100_000).default(1000),
    })
    .default({ listen: "127.0.0.1:8787", tokens: [], allowedOrigins: [], maxBodyBytes: 1024 * 1024, maxSessions: 1000 }),
  stdio: z.strictObject({ allow: z.array(z.string()).optional() }).default({}),
  audit: z
    .strictObject({
      file: z.string().min(1).default("./warden-audit.jsonl"),
      redact: z.array(z.string()).default(["password", "token", "authorization"]),
      retainDays: z.number().positive().optional(),
      /** Rotation size; the log rotates at 64 MiB when unset (SPEC §14). */
      maxBytes: z.number().int().positive().optional(),
      /** Bound of one record; a larger one is written truncated, still chained (issue 17). */
      maxRecordBytes: z.number().int().min(16 * 1024).max(256 * 1024 * 1024).optional(),
      /** Signed checkpoints of the chain's head, shipped off the host (SPEC §10). Paths are checked at load. */
      checkpoint: z
        .strictObject({
          every: z.number().int().min(1).max(10_000_000).default(100),
          intervalSec: z.number().positive().max(86_400).default(60),
          key: z.string().min(1),
          serverId: z.string().min(1).max(128).optional(),
          alertAfterSec: z.number().positive().max(86_400).default(30),
          sink: z
            .strictObject({
              file: z.string().min(1).optional(),
              webhook: z.string().regex(/^https?:\/\/\S+$/, "webhook is an http(s) URL").optional(),
              command: z.array(z.string().min(1)).min(1).optional(),
            })
            .refine((s) => s.file !== undefined || s.webhook !== undefined || s.command !== undefined, "sink needs at least one of file, webhook, command"),
        })
        .optional(),
    })
    .default({ file: "./warden-audit.jsonl", redact: ["password", "token", "authorization"] }),
  journal: z.strictObject({ dir: z.string().optional(), retainDays: z.number().positive().optional(), maxBytes: z.number().int().positive().optional() }).optional(),
  alerts: z.strictObject({ webhook: z.string().optional(), command: z.array(z.string()).optional() }).optional(),
  quarantine: z
    .strictObject({ denials: z.number().int().positive().optional(), crashes: z.number().int().positive().optional(), windowSec: z.number().positive().optional() })
    .optional(),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ToolGrant = z.infer<typeof ToolGrantSchema>;

function isAddressOrCidr(text: string): boolean {
  const [address, bits, extra] = text.split("/");
  const family = isIP(address ?? "");
  if (family === 0 || extra !== undefined) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}
