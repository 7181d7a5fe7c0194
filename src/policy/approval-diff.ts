import { effectRank } from "../capabilities/effective.js";
import type { Approval } from "./lock.js";


/**
 * What an update asks for beyond the approved version (SPEC §7): the operator
 * must see every widening, not re-read the whole manifest and hope to spot it.
 */
export function approvalDiff(previous: Approval, next: Approval): string[] {
  const out: string[] = [];
  if (previous.version !== next.version) out.push(`version ${previous.version} → ${next.version}`);
  if (previous.digest !== next.digest) out.push(`code changed (digest ${short(previous.digest)} → ${short(next.digest)})`);
  if (previous.runtime !== next.runtime) out.push(`NEW runtime: ${previous.runtime} → ${next.runtime}`);
  // What runs, field by field: "code changed" alone hides a swapped image or command.
  for (const [label, before, after] of runsWhat(previous, next)) if (before !== after) out.push(`${label}: ${before} → ${after}`);
  if (effectRank(next.effect) > effectRank(previous.effect)) out.push(`NEW effect raised: ${previous.effect} → ${next.effect}`);
  for (const host of next.capabilities.network) if (!previous.capabilities.network.includes(host)) out.push(`NEW network host: ${host}`);
  for (const f of next.capabilities.filesystem) {
    const before = previous.capabilities.filesystem.find((p) => p.volume === f.volume);
    if (!before) out.push(`NEW volume: ${f.volume} (${f.access})`);
    else if (before.access === "read" && f.access === "read-write") out.push(`NEW wider access: ${f.volume} read → read-write`);
  }
  for (const s of next.capabilities.env) if (!previous.capabilities.env.includes(s)) out.push(`NEW secret: ${s}`);
  for (const [k, v] of Object.entries(next.limits)) {
    const was = previous.limits[k];
    if (was !== undefined && v > was) out.push(`NEW raised limit: ${k} ${was} → ${v}`);
  }
  for (const host of previous.capabilities.network) if (!next.capabilities.network.includes(host)) out.push(`removed network host: ${host}`);
  return out;
}

function runsWhat(previous: Approval, next: Approval): Array<[string, string, string]> {
  const text = (v: string | string[] | undefined) => (v === undefined ? "(none)" : Array.isArray(v) ? JSON.stringify(v) : v);
  return [
    ["NEW entry", text(previous.entry), text(next.entry)],
    ["NEW image", text(previous.image), text(next.image)],
    ["NEW image ID (the image was rebuilt or retagged)", text(previous.imageId), text(next.imageId)],
    ["NEW command", text(previous.command), text(next.command)],
  ];
}

function short(digest: string): string {
  return digest.replace(/^sha256:/, "").slice(0, 12);
}
