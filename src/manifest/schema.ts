import { z } from "zod";

/** Network allow pattern: `[scheme://]host[:port]` — parsed and checked in capabilities/network. */
export const NetworkPatternSchema = z
  .string()
  .min(1)
  .max(300)
  .describe("[scheme://]host[:port]: https (default) or http; host is a DNS name, *.suffix, or an IP literal ([…] for IPv6)");

export const VolumeAccessSchema = z.enum(["read", "read-write"]);
export const EffectSchema = z.enum(["read", "write", "destructive"]);
export type Effect = z.infer<typeof EffectSchema>;

export const FilesystemGrantSchema = z.strictObject({
  volume: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, "volume names are lower-case letters, digits, _ and -"),
  access: VolumeAccessSchema,
});

export const CapabilitiesSchema = z.strictObject({
  network: z.strictObject({ allow: z.array(NetworkPatternSchema).max(64) }).optional(),
  filesystem: z.array(FilesystemGrantSchema).max(16).optional(),
  env: z.array(z.string().regex(/^[A-Z][A-Z0-9_]{0,127}$/, "secret names are UPPER_SNAKE_CASE")).max(64).optional(),
});

export const LIMIT_DEFAULTS = { timeoutMs: 10_000, memoryMb: 128, outputBytes: 1024 * 1024, cpus: 1, pids: 64 } as const;
export const LIMIT_MAXIMA = { timeoutMs: 300_000, memoryMb: 4096, outputBytes: 16 * 1024 * 1024, cpus: 16, pids: 4096 } as const;

export const LimitsSchema = z.strictObject({
  timeoutMs: z.number().int().min(10).max(LIMIT_MAXIMA.timeoutMs).optional(),
  memoryMb: z.number().int().min(8).max(LIMIT_MAXIMA.memoryMb).optional(),
  outputBytes: z.number().int().min(16).max(LIMIT_MAXIMA.outputBytes).optional(),
  cpus: z.number().positive().max(LIMIT_MAXIMA.cpus).optional(),
  pids: z.number().int().min(4).max(LIMIT_MAXIMA.pids).optional(),
});

/** A JSON Schema object with `type: object` at the top (what MCP tools/list accepts). */
export const ToolJsonSchemaSchema = z
  .looseObject({ type: z.literal("object") })
  .describe("JSON Schema (draft 2020-12 subset) with type: object at the top");

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

const ManifestBaseSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "name must match ^[a-z][a-z0-9_]{0,63}$"),
  version: z.string().regex(SEMVER, "version must be semver, e.g. 1.0.0"),
  title: z.string().max(200).optional(),
  description: z.string().min(1).max(4000),
  runtime: z.enum(["isolate", "container"]),
  entry: z.string().min(1).max(255).optional(),
  image: z.string().min(1).max(255).optional(),
  command: z.array(z.string()).min(1).max(64).optional(),
  effect: EffectSchema,
  owner: z.string().max(200).optional(),
  inputSchema: ToolJsonSchemaSchema,
  outputSchema: ToolJsonSchemaSchema.optional(),
  capabilities: CapabilitiesSchema.optional(),
  limits: LimitsSchema.optional(),
});

/** manifest.json of a tool plugin (SPEC §2). Unknown keys are errors. */
export const ManifestSchema = ManifestBaseSchema.superRefine((m, ctx) => {
  if (m.runtime === "isolate") {
    if (!m.entry) ctx.addIssue({ code: "custom", path: ["entry"], message: "an isolate tool needs \"entry\": the ES module file to run, e.g. \"index.js\"" });
    if (m.image) ctx.addIssue({ code: "custom", path: ["image"], message: "\"image\" is for container tools; remove it or set runtime to \"container\"" });
    if (m.command) ctx.addIssue({ code: "custom", path: ["command"], message: "\"command\" is for container tools; remove it" });
    if (m.entry && (m.entry.includes("..") || m.entry.startsWith("/") || m.entry.includes("\\") || m.entry.includes("\0")))
      ctx.addIssue({ code: "custom", path: ["entry"], message: "entry must be a relative path inside the tool folder" });
  } else {
    if (!m.image) ctx.addIssue({ code: "custom", path: ["image"], message: "a container tool needs \"image\", e.g. \"warden-tools/mytool:1\"" });
    if (m.entry) ctx.addIssue({ code: "custom", path: ["entry"], message: "\"entry\" is for isolate tools; remove it or set runtime to \"isolate\"" });
  }
  const rw = m.capabilities?.filesystem?.some((f) => f.access === "read-write");
  if (rw && m.effect === "read")
    ctx.addIssue({ code: "custom", path: ["effect"], message: "a tool with a read-write volume has effect at least \"write\"" });
  const seen = new Set<string>();
  for (const [i, f] of (m.capabilities?.filesystem ?? []).entries()) {
    if (seen.has(f.volume)) ctx.addIssue({ code: "custom", path: ["capabilities", "filesystem", i, "volume"], message: `volume "${f.volume}" is listed twice` });
    seen.add(f.volume);
  }
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type Limits = Required<z.infer<typeof LimitsSchema>>;
