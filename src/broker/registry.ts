import { glob, stat } from "node:fs/promises";
import { join } from "node:path";
import { WardenError } from "../errors.js";
import type { LoadedConfig } from "../config/load.js";
import { effectiveFor } from "../capabilities/effective.js";
import { MIN_SECRET_LENGTH } from "../capabilities/redaction.js";
import type { EffectiveCapabilities } from "../capabilities/types.js";
import { loadTool, type LoadedTool } from "../manifest/index.js";
import { compileJsonSchema } from "../manifest/json-schema.js";
import type { Effect, Limits } from "../manifest/schema.js";
import type { SandboxTool } from "../../sandboxes/executor.js";

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
  const { config, file } = loaded;
  const tools = new Map<string, RegisteredTool>();
  for (const dir of await findToolDirs(config.tools)) {
    const tool = await loadTool(dir);
    const name = tool.manifest.name;
    const other = tools.get(name);
    if (other)
      throw new WardenError("E_CONFIG", `${file}: tools: two tool folders are named "${name}" (${other.loaded.dir} and ${tool.dir}); fix: rename one or narrow the tools globs`);
    tools.set(name, registerTool(tool, loaded, env));
  }
  for (const name of Object.keys(config.grants)) {
    if (!tools.has(name))
      throw new WardenError("E_CONFIG", `${file}: grants.${name}: no tool named "${name}" was found by the tools globs; fix: remove the grant or add the tool folder`);
  }
  const allSecretValues = [...new Set([...tools.values()].flatMap((t) => Object.values(t.secrets)))];
  return { tools, allSecretValues };
}

function registerTool(tool: LoadedTool, loaded: LoadedConfig, env: NodeJS.ProcessEnv): RegisteredTool {
  const { config, file } = loaded;
  const m = tool.manifest;
  const { capabilities, effect } = effectiveFor(m, config.grants[m.name], config, file);
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
  const sandbox: SandboxTool = {
    name: m.name,
    version: m.version,
    digest: tool.digest,
    runtime: m.runtime,
    dir: tool.dir,
    ...(m.entry ? { entry: m.entry } : {}),
    // The hashed bytes themselves: the isolate backend runs exactly what the digest covers.
    ...(tool.sources ? { modules: tool.sources } : {}),
    ...(m.image ? { image: m.image } : {}),
    ...(m.command ? { command: m.command } : {}),
    ...(m.owner ? { owner: m.owner } : {}),
    limits,
    network: capabilities.network.length > 0,
    volumes: capabilities.filesystem.map(({ volume, access, hostPath }) => ({ volume, access, hostPath })),
  };
  return {
    name: m.name,
    loaded: tool,
    effect,
    capabilities,
    limits,
    sandbox,
    secrets,
    checkInput: compileJsonSchema(m.inputSchema),
    checkOutput: m.outputSchema ? compileJsonSchema(m.outputSchema) : null,
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
