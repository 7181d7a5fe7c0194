/**
 * The tools a hosted MCP server exposes (SPEC §15): one registered tool per
 * definition pinned at approval, named `toolPrefix + name`, with the pinned
 * schemas — never what the server lists now. The server's live list is only
 * compared with the pins (`driftOf`): a changed or unknown tool is withheld.
 */
import type { Logger } from "pino";
import { compileJsonSchema } from "../manifest/json-schema.js";
import { redactSecretValues } from "../capabilities/redaction.js";
import type { Lock } from "../policy/lock.js";
import { maxEffect, pinnedEffect, pinOf, type ServerToolDefinition } from "../policy/pins.js";
import type { Effect } from "../manifest/schema.js";
import type { RegisteredTool } from "./registry.js";

export function prefixOf(unit: RegisteredTool): string {
  return unit.loaded.manifest.toolPrefix ?? `${unit.name}_`;
}

/** Expands every approved hosted server into its pinned tools. Names that collide are skipped (and logged). */
export function exposeServerTools(units: Iterable<RegisteredTool>, lock: Lock, taken: ReadonlySet<string>, logger?: Logger): Map<string, RegisteredTool> {
  const out = new Map<string, RegisteredTool>();
  for (const unit of units) {
    const approval = Object.hasOwn(lock.tools, unit.name) ? lock.tools[unit.name] : undefined;
    if (!approval || approval.digest !== unit.sandbox.digest || !approval.pins) continue;
    const prefix = prefixOf(unit);
    for (const [remote, pin] of Object.entries(approval.pins)) {
      const name = `${prefix}${remote}`;
      if (taken.has(name) || out.has(name)) {
        logger?.error({ tool: unit.name, exposed: name }, "a hosted server's tool name collides with another tool; it is not exposed (set a toolPrefix)");
        continue;
      }
      const exposed = expose(unit, remote, pin.sha256, pin.definition as ServerToolDefinition, approval.imageId, logger);
      if (exposed) out.set(name, exposed);
    }
  }
  return out;
}

function expose(unit: RegisteredTool, remote: string, sha256: string, definition: ServerToolDefinition, imageId: string | undefined, logger?: Logger): RegisteredTool | null {
  let checkInput;
  let checkOutput = null;
  try {
    checkInput = compileJsonSchema(definition.inputSchema);
    if (definition.outputSchema) checkOutput = compileJsonSchema(definition.outputSchema);
  } catch (err) {
    logger?.error({ tool: unit.name, remote, err: (err as Error).message }, "a pinned schema of a hosted server does not compile; the tool is not exposed");
    return null;
  }
  const declared = pinnedEffect(remote, unit.loaded.manifest);
  // A granted secret the server put into a description or schema never reaches a client's tools/list.
  const shown = redactSecretValues(definition, Object.values(unit.secrets)).value;
  return {
    ...unit,
    name: `${prefixOf(unit)}${remote}`,
    effect: [unit.grantEffect, unit.grantEffects && Object.hasOwn(unit.grantEffects, remote) ? unit.grantEffects[remote] : undefined].reduce<Effect>(
      (e, raise) => (raise ? maxEffect(e, raise) : e),
      declared,
    ),
    sandbox: { ...unit.sandbox, ...(imageId ? { imageId } : {}) },
    checkInput,
    checkOutput,
    server: { unit: unit.name, remote, sha256 },
    definition: shown,
  };
}

export interface Drift {
  /** Exposed name → why it is withheld. */
  withheld: Map<string, string>;
}

/** Compares what a server lists now with its pins: every difference withholds that tool name. */
export function driftOf(unit: RegisteredTool, lock: Lock, live: ServerToolDefinition[]): Map<string, string> {
  const withheld = new Map<string, string>();
  const approval = Object.hasOwn(lock.tools, unit.name) ? lock.tools[unit.name] : undefined;
  const pins = approval?.digest === unit.sandbox.digest ? (approval.pins ?? {}) : {};
  const prefix = prefixOf(unit);
  const listed = new Set<string>();
  for (const def of live) {
    listed.add(def.name);
    const pin = Object.hasOwn(pins, def.name) ? pins[def.name] : undefined;
    if (!pin) withheld.set(`${prefix}${def.name}`, `the server lists "${def.name}", which was never approved`);
    else if (pin.sha256 !== pinOf(def).sha256) withheld.set(`${prefix}${def.name}`, `the server changed the definition of "${def.name}" since it was approved`);
  }
  for (const remote of Object.keys(pins)) if (!listed.has(remote)) withheld.set(`${prefix}${remote}`, `the server no longer lists "${remote}"`);
  return withheld;
}
