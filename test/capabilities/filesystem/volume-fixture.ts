/**
 * A real volume on disk for ctx.fs tests: `<base>/ws` is the volume, and
 * `<base>/ws-evil` is its sibling outside it (same name prefix, for the prefix
 * trick) holding a canary that no operation may ever read, change or add to.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVolumeFs, type VolumeFsOptions } from "../../../src/capabilities/filesystem/index.js";
import type { FileRecord, VolumeGrant } from "../../../src/capabilities/types.js";

export const CANARY = "CANARY-SECRET-outside-the-volume";

export interface VolumeFixture {
  base: string;
  /** Host dir of volume "ws". */
  ws: string;
  /** Sibling host dir outside the volume. */
  evil: string;
  records: FileRecord[];
  fs: ReturnType<typeof createVolumeFs>;
  /** The outside dir still holds exactly the canary, unchanged. */
  outsideUntouched(): boolean;
  cleanup(): void;
}

export function volumeFixture(grant: Partial<VolumeGrant> = {}, options: Partial<VolumeFsOptions> = {}): VolumeFixture {
  const base = mkdtempSync(join(tmpdir(), "warden-fs-host-"));
  const ws = join(base, "ws");
  const evil = join(base, "ws-evil");
  mkdirSync(ws);
  mkdirSync(evil);
  writeFileSync(join(evil, "canary.txt"), CANARY);
  const records: FileRecord[] = [];
  const volumes: VolumeGrant[] = [{ volume: "ws", access: "read-write", hostPath: ws, ...grant }];
  const fs = createVolumeFs({ tool: "notes_tool", volumes, onFileOp: (r) => records.push(r), ...options });
  return {
    base,
    ws,
    evil,
    records,
    fs,
    outsideUntouched: () =>
      readdirSync(evil).join(",") === "canary.txt" && readFileSync(join(evil, "canary.txt"), "utf8") === CANARY,
    cleanup: () => rmSync(base, { recursive: true, force: true }),
  };
}
