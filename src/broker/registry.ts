import { glob, stat } from "node:fs/promises";
import { join } from "node:path";
import { WardenError, toWardenError } from "../errors.js";
import type { LoadedConfig } from "../config/load.js";
import { effectiveFor } from "../capabilities/effective.js";
import { MIN_SECRET_LENGTH } from "../capabilities/redaction.js";
import type { EffectiveCapabilities } from "../capabilities/types.js";
import { IMAGE_ID_UNKNOWN, loadTool, readEngineImageId, type LoadedTool } from "../manifest/index.js";
import { compileJsonSchema } from "../manifest/json-schema.js";
import type { Effect, Limits } from "../manifest/schema.js";
import type { SandboxTool } from "../../sandboxes/executor.js";
import type { ServerToolDefinition } from "../policy/pins.js";

export type SchemaCheck = (value: unknown) => { ok: true } | { ok: false; problems: string[] };

/** A tool as the broker serves it: manifest, effective capabilities, limits under the ceiling. */
export interface RegisteredTool {
  name: string;
  loaded: LoadedTool;
  effect: Effect;
  capabilities: EffectiveCapabilities;
  limits: Limits;
  sandbox: SandboxTool;
  /** Granted secrets, name → value (resolved from the operator's environment at load). */
  secrets: Record<string, string>;
  checkInput: SchemaCheck;
  checkOutput: SchemaCheck | null;
  /** The effect the operator raised the tool to in `grants` (hosted servers apply it per tool). */
  grantEffect?: Effect | undefined;
  /** Hosted servers: the operator's per-tool raises (`grants.<server>.effects`, by the server's tool names). */
  grantEffects?: Record<string, Effect> | undefined;
  /** A tool of a hosted MCP server (SPEC §15): its server (the manifest), its name there and its pin. */
  server?: { unit: string; remote: string; sha256: string };
  /** A hosted server's tool: the definition pinned at approval (what tools/list shows). */
  definition?: ServerToolDefinition;
}

export interface Registry {
  tools: Map<string, RegisteredTool>;
  /** Every granted secret value of every tool: redacted from anything leaving the server. */
  allSecretValues: string[];
}

/** Finds tool folders (those with a manifest.json) matching the config's `tools` globs. */
export async function findToolDirs(patterns: readonly string[]): Promise<string[]> {
  const dirs = new Set<string>();
  for (const pattern of patterns) {
    for await (const match of glob(pattern)) {
      const dir = String(match);
      const st = await stat(join(dir, "manifest.json")).catch(() => null);
      if (st?.isFile()) dirs.add(dir);
    }
  }
  return [...dirs].sort();
}

/** Loads every tool of the config. Any problem stops startup: the server never starts half-configured. */
export async function loadRegistry(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env): Promise<Registry> {
  const { registry, withheld } = await loadRegistryPartial(loaded, env);
  if (withheld.length > 0) throw withheld[0]!.error;
  return registry;
}

/** A tool folder a running server could not load: its tool is not served until the folder loads again. */
export interface WithheldTool {
  dir: string;
  /** The manifest name when it could be read (an impostor's duplicate, a missing secret), else null. */
  name: string | null;
  error: WardenError;
}

/**
 * Live reload (#19.2): a broken tool folder (a symlink, a FIFO, bad JSON, two
 * folders with one name) withholds only that tool. The operator's `disabled`
 * list, grants and tokens from the same config still apply: a tool author
 * must not be able to block the kill switch by breaking their own folder.
 */
export async function loadRegistryPartial(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env): Promise<{ registry: Registry; withheld: WithheldTool[]; dirs: string[] }> {
  const { config, file } = loaded;
  const tools = new Map<string, RegisteredTool>();
  const withheld: WithheldTool[] = [];
  const dirs = await findToolDirs(config.tools);
  const byName = new Map<string, string[]>();
  for (const dir of dirs) {
    let name: string | null = null;
    try {
      const tool = await loadTool(dir, { imageIdOf: readEngineImageId });
      name = tool.manifest.name;
      byName.set(name, [...(byName.get(name) ?? []), dir]);
      tools.set(name, registerTool(tool, loaded, env));
    } catch (err) {
      withheld.push({ dir, name, error: toWardenError(err, "E_MANIFEST") });
    }
  }
  // Two folders with one name: neither is served (which one is the impostor is the operator's call).
  for (const [name, sameName] of byName) {
    if (sameName.length < 2) continue;
    tools.delete(name);
    const error = new WardenError("E_CONFIG", `${file}: tools: two tool folders are named "${name}" (${sameName.join(" and ")}); fix: rename one or narrow the tools globs`);
    for (const dir of sameName) withheld.push({ dir, name, error });
  }
  for (const name of Object.keys(config.grants)) {
    // A grant for a folder that failed to load is not a config error: that tool is withheld anyway.
    if (!tools.has(name) && withheld.length === 0)
      throw new WardenError("E_CONFIG", `${file}: grants.${name}: no tool named "${name}" was found by the tools globs; fix: remove the grant or add the tool folder`);
  }
  const allSecretValues = [...new Set([...tools.values()].flatMap((t) => Object.values(t.secrets)))];
  return { registry: { tools, allSecretValues }, withheld, dirs };
}

/** One tool folder under the config: effective capabilities, limits under the ceiling, granted secrets. */
export function registerTool(tool: LoadedTool, loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env): RegisteredTool {
  const { config, file } = loaded;
  const m = tool.manifest;
  // hasOwn: a tool named "constructor" must not find Object.prototype.constructor as its grant.
  const { capabilities, effect } = effectiveFor(m, Object.hasOwn(config.grants, m.name) ? config.grants[m.name] : undefined, config, file);
  const limits = capLimits(tool.limits, config.ceiling);
  const secrets: Record<string, string> = {};
  for (const name of capabilities.env) {
    const from = config.secrets[name]!.env;
    const value = env[from];
    if (value === undefined || value.length < MIN_SECRET_LENGTH)
      throw new WardenError(
        "E_CONFIG",
        `${file}: secrets.${name}: environment variable ${from} is ${value === undefined ? "not set" : "shorter than 4 characters"}; fix: export ${from} before starting warden, or grant ${m.name} "env": []`,
      );
    secrets[name] = value;
  }
  const base = {
    name: m.name,
    version: m.version,
    digest: tool.digest,
    dir: tool.dir,
    ...(m.owner ? { owner: m.owner } : {}),
    limits,
    network: capabilities.network.length > 0,
    volumes: capabilities.filesystem.map(({ volume, access, hostPath }) => ({ volume, access, hostPath })),
  };
  const sandbox = sandboxUnitOf(m, tool, base);
  return {
    name: m.name,
    loaded: tool,
    effect,
    capabilities,
    limits,
    sandbox,
    secrets,
    checkInput: compileJsonSchema(m.inputSchema ?? { type: "object" }),
    checkOutput: m.outputSchema ? compileJsonSchema(m.outputSchema) : null,
    grantEffect: config.grants[m.name]?.effect,
    grantEffects: config.grants[m.name]?.effects,
  };
}

/** `ceiling` caps every tool's limits (SPEC §6). */
export function capLimits(limits: Limits, ceiling: Partial<Limits>): Limits {
  const out = { ...limits };
  for (const key of Object.keys(out) as (keyof Limits)[]) {
    const cap = ceiling[key];
    if (cap !== undefined && out[key] > cap) out[key] = cap;
  }
  return out;
}

/** The unit the tool's backend runs, one shape per runtime (sandboxes/executor.ts). */
function sandboxUnitOf(m: LoadedTool["manifest"], tool: LoadedTool, base: Omit<SandboxTool, "runtime">): SandboxTool {
  const docker = { ...(m.command ? { command: m.command } : {}) };
  switch (m.runtime) {
    case "isolate":
      // The hashed bytes themselves: the isolate backend runs exactly what the digest covers.
      return { ...base, runtime: "isolate", ...(m.entry ? { entry: m.entry } : {}), ...(tool.sources ? { modules: tool.sources } : {}) };
    case "container":
      // The approved image ID, checked at every start; "unknown" (engine unreadable at load) never matches.
      return { ...base, ...docker, runtime: "container", image: m.image ?? "", imageId: tool.imageId ?? IMAGE_ID_UNKNOWN };
    case "mcp-server":
      return { ...base, ...docker, runtime: "mcp-server", image: m.image ?? "", lifecycle: m.lifecycle ?? "session" };
  }
}
