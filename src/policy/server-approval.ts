import type { Effect, Manifest } from "../manifest/schema.js";
import type { Approval } from "./lock.js";
import { definitionChanges, pinnedEffect, pinOf, type ServerToolDefinition, type ToolPin } from "./pins.js";

/** The pins of a hosted server's tools as it listed them at approval (SPEC §15). */
export function pinsOf(definitions: ServerToolDefinition[]): Record<string, ToolPin> {
  const pins: Record<string, ToolPin> = Object.create(null) as Record<string, ToolPin>;
  for (const d of definitions) pins[d.name] = pinOf(d);
  return { ...pins };
}

/** Whether a new probe asks for nothing the lock does not already hold. */
export function sameServerApproval(previous: Approval, next: Approval): boolean {
  if (previous.digest !== next.digest || previous.imageId !== next.imageId) return false;
  const a = previous.pins ?? {};
  const b = next.pins ?? {};
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].every((n) => Object.hasOwn(a, n) && Object.hasOwn(b, n) && a[n]!.sha256 === b[n]!.sha256);
}

/** Every tool as the operator reviews it: the name clients will see, the effect warden applies, and the whole definition. */
export function describeServerTools(manifest: Manifest, prefix: string, pins: Record<string, ToolPin>): string {
  const lines: string[] = [];
  for (const [remote, pin] of Object.entries(pins).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const d = pin.definition as ServerToolDefinition;
    const effect: Effect = pinnedEffect(remote, manifest);
    lines.push(`  ${shown(`${prefix}${remote}`)}  effect=${effect}${d.annotations ? `  (server's hints, not trusted: ${shown(JSON.stringify(d.annotations))})` : ""}`);
    if (d.title !== undefined) lines.push(`      title:        ${shown(d.title)}`);
    lines.push(`      description:  ${shown(d.description ?? "(none)")}`);
    lines.push(`      inputSchema:  ${shown(JSON.stringify(d.inputSchema))}`);
    if (d.outputSchema) lines.push(`      outputSchema: ${shown(JSON.stringify(d.outputSchema))}`);
    lines.push(`      pin:          sha256:${pin.sha256.slice(0, 16)}…`);
  }
  return lines.join("\n") + "\n";
}

/** What changed in a hosted server since its approved version: tools added, removed, redefined; the image. */
export function serverChanges(previous: Approval, next: Approval, prefix: string): string[] {
  const out: string[] = [];
  if (previous.imageId !== next.imageId) out.push(`NEW image: ${(previous.imageId ?? "none").slice(0, 19)} → ${(next.imageId ?? "none").slice(0, 19)}`);
  const a = previous.pins ?? {};
  const b = next.pins ?? {};
  for (const name of Object.keys(b).sort()) {
    if (!Object.hasOwn(a, name)) out.push(`NEW tool: ${shown(prefix + name)}`);
    else if (a[name]!.sha256 !== b[name]!.sha256)
      out.push(`CHANGED tool: ${shown(prefix + name)} (${definitionChanges(a[name]!.definition as ServerToolDefinition, b[name]!.definition as ServerToolDefinition).join(", ")})`);
  }
  for (const name of Object.keys(a).sort()) if (!Object.hasOwn(b, name)) out.push(`removed tool: ${shown(prefix + name)}`);
  return out;
}

/**
 * Text from an untrusted server, shown on the operator's terminal: control
 * characters, escape sequences and bidi/format controls are made visible, so
 * a description cannot hide or reorder what the operator reads.
 */
export function shown(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
