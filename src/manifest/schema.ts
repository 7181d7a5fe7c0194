import { z } from "zod";
import { manifestRuleIssues } from "./rules.js";

/**
 * manifest.json of a tool plugin (SPEC §2). Every object is strict: an unknown
 * key is an error, never ignored — a misspelt "capabilites" silently dropped
 * would run the tool with other rights than its author meant.
 *
 * Messages of the form "<problem>; fix: <how>" are shown as-is by `warden validate`.
 */

/** Network allow pattern: `[scheme://]host[:port]` — parsed and checked in capabilities/network. */
export const NetworkPatternSchema = z
  .string()
  .min(1)
  .max(300)
  .describe("[scheme://]host[:port]: https (default) or http; host is a DNS name, *.suffix, or an IP literal ([…] for IPv6)");

export const VolumeAccessSchema = z.enum(["read", "read-write"]).describe("read, or read-write (implies effect at least \"write\")");
export const EffectSchema = z
  .enum(["read", "write", "destructive"])
  .describe("The author's honest claim of what a call does: read, write or destructive");
export type Effect = z.infer<typeof EffectSchema>;

export const FilesystemGrantSchema = z
  .strictObject({
    volume: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,63}$/, "volume names are lower-case letters, digits, _ and -; fix: use a name like \"workspace\"")
      .describe("Volume name; the operator maps it to a host directory. The tool sees it at /mnt/<volume>"),
    access: VolumeAccessSchema,
  })
  .describe("One volume the tool needs");

export const CapabilitiesSchema = z
  .strictObject({
    network: z
      .strictObject({ allow: z.array(NetworkPatternSchema).max(64).describe("Hosts the tool may reach") })
      .optional()
      .describe("Absent: no network at all"),
    filesystem: z.array(FilesystemGrantSchema).max(16).optional().describe("Absent: no filesystem"),
    env: z
      .array(z.string().regex(/^[A-Z][A-Z0-9_]{0,127}$/, "secret names are UPPER_SNAKE_CASE; fix: use a name like \"WEATHER_API_KEY\""))
      .max(64)
      .optional()
      .describe("Names of secrets the tool may receive. Absent: none"),
  })
  .describe("What the tool needs; the operator grants all or part of it");

export const LIMIT_DEFAULTS = { timeoutMs: 10_000, memoryMb: 128, outputBytes: 1024 * 1024, cpus: 1, pids: 64 } as const;
export const LIMIT_MAXIMA = { timeoutMs: 300_000, memoryMb: 4096, outputBytes: 16 * 1024 * 1024, cpus: 16, pids: 4096 } as const;

export const LimitsSchema = z
  .strictObject({
    timeoutMs: z.number().int().min(10).max(LIMIT_MAXIMA.timeoutMs).optional().describe("Wall clock per call, ms (default 10000)"),
    memoryMb: z.number().int().min(8).max(LIMIT_MAXIMA.memoryMb).optional().describe("Heap (isolate) or memory+swap (container), MiB (default 128)"),
    outputBytes: z.number().int().min(16).max(LIMIT_MAXIMA.outputBytes).optional().describe("Largest UTF-8 JSON output, bytes (default 1 MiB)"),
    cpus: z.number().positive().max(LIMIT_MAXIMA.cpus).optional().describe("Containers: CPU quota (default 1)"),
    pids: z.number().int().min(4).max(LIMIT_MAXIMA.pids).optional().describe("Containers: process limit (default 64)"),
  })
  .describe("Budgets; the operator's ceiling caps them");

/** A JSON Schema object with `type: object` at the top (what MCP tools/list accepts). */
export const ToolJsonSchemaSchema = z
  .looseObject({ type: z.literal("object") })
  .describe("JSON Schema (draft 2020-12 subset) with type: object at the top");

/** The three backends (SPEC §2, §15). */
export const RUNTIMES = ["isolate", "container", "mcp-server"] as const;
export const RuntimeSchema = z
  .enum(RUNTIMES)
  .describe("isolate: a V8 isolate running `entry`; container: a Docker container of `image` (stdin/stdout JSON); mcp-server: an unmodified MCP server in a container of `image`");
export type RuntimeKind = z.infer<typeof RuntimeSchema>;

export const LifecycleSchema = z
  .enum(["session", "call"])
  .describe("mcp-server: session (default) = one container per MCP session; call = a fresh container per call");

/** Tool names as MCP servers spell them (MCP guidance: 1–128 of A-Z a-z 0-9 _ - .). */
export const MCP_TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export const ManifestBaseSchema = z.strictObject({
  $schema: z.string().optional().describe("Editor hint: path or URL of manifest.schema.json"),
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/, "name must match ^[a-z][a-z0-9_]{0,63}$; fix: use lower-case letters, digits and _, starting with a letter, e.g. \"fetch_weather\"")
    .describe("Tool name, unique in the server"),
  version: z.string().regex(SEMVER, "version must be semver; fix: use MAJOR.MINOR.PATCH, e.g. \"1.0.0\"").describe("Semver version"),
  title: z.string().max(200).optional().describe("Human-readable title"),
  description: z.string().min(1).max(4000).describe("What the tool does (shown to the model)"),
  runtime: RuntimeSchema,
  entry: z.string().min(1).max(255).optional().describe("Isolate: the ES module file, relative to the tool folder"),
  image: z.string().min(1).max(255).optional().describe("Container / mcp-server: image reference, built locally"),
  command: z.array(z.string()).min(1).max(64).optional().describe("Container / mcp-server: command to run (default: the image's)"),
  lifecycle: LifecycleSchema.optional(),
  toolPrefix: z
    .string()
    .regex(/^[a-z0-9_]{0,32}$/, "toolPrefix is at most 32 lower-case letters, digits and _; fix: use e.g. \"files_\", or \"\" for none")
    .optional()
    .describe("mcp-server: prepended to every tool name the server lists (default: the manifest name and \"_\")"),
  effects: z
    .record(z.string().regex(MCP_TOOL_NAME, "a tool name of the server: 1–128 of A-Z a-z 0-9 _ - ."), EffectSchema)
    .optional()
    .describe("mcp-server: effect per tool name of the server (as the server names it); `effect` covers the rest"),
  effect: EffectSchema,
  owner: z.string().max(200).optional().describe("Contact for escalation"),
  inputSchema: ToolJsonSchemaSchema.optional().describe("isolate / container: required. mcp-server: not allowed (the server's own tools/list, pinned at approval)"),
  outputSchema: ToolJsonSchemaSchema.optional(),
  capabilities: CapabilitiesSchema.optional(),
  limits: LimitsSchema.optional(),
});

/** manifest.json of a tool plugin (SPEC §2). Unknown keys are errors. */
export const ManifestSchema = ManifestBaseSchema.superRefine((m, ctx) => {
  for (const issue of manifestRuleIssues(m)) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type Limits = Required<z.infer<typeof LimitsSchema>>;
