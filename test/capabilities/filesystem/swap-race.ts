/**
 * Race harness: a separate process swaps path components between a real
 * directory/file and a symlink leading outside the volume, as fast as it can,
 * while ctx.fs reads and writes through those very components. A resolver
 * that checks a path and then opens it by name (realpath → open) loses this
 * race within milliseconds; fd-relative resolution never does.
 */
import { spawn } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FsOperation, FsStat, HostResult } from "../../../sandboxes/executor.js";
import { CANARY, type VolumeFixture } from "./volume-fixture.js";

export type VolumeFs = (operation: FsOperation) => Promise<HostResult<string | Uint8Array | string[] | FsStat | null>>;

export interface RaceOutcome {
  swaps: number;
  readsOk: number;
  readsRefused: number;
  /** Reads that returned the outside canary: must be 0. */
  leaks: number;
  writes: number;
}

// Each cycle: dir `sub` ↔ symlink to ../ws-evil, file `f` ↔ symlink to ../ws-evil/canary.txt,
// file `g` ↔ dangling symlink to ../ws-evil/planted.txt (an O_CREAT that follows it creates a file outside).
const SWAPPER = `
const fs = require("node:fs");
const [ws, ms] = process.argv.slice(1);
const p = (n) => ws + "/" + n;
// mkdir -p and writeFile may recreate "sub" or "f" in the instant they are missing: move the newcomer aside.
let trash = 0;
const mv = (from, to) => {
  for (let tries = 0; ; tries++) {
    try { return fs.renameSync(p(from), p(to)); } catch (err) { if (tries > 1000) throw err; }
    try { fs.renameSync(p(to), p(".trash-" + trash++)); } catch {}
  }
};
let swaps = 0;
process.stdout.write("ready\\n");
const end = Date.now() + Number(ms);
while (Date.now() < end) {
  mv("sub", ".sub-real"); mv(".sub-link", "sub");
  mv("f", ".f-real"); mv(".f-link", "f");
  mv("g", ".g-real"); mv(".g-link", "g");
  mv("sub", ".sub-link"); mv(".sub-real", "sub");
  mv("f", ".f-link"); mv(".f-real", "f");
  mv("g", ".g-link"); mv(".g-real", "g");
  swaps++;
}
process.stdout.write(String(swaps) + "\\n");
`;

export async function raceAgainstSwaps(v: VolumeFixture, fs: VolumeFs, ms: number): Promise<RaceOutcome> {
  mkdirSync(join(v.ws, "sub"));
  writeFileSync(join(v.ws, "sub", "canary.txt"), "inside"); // same name as the outside canary
  writeFileSync(join(v.ws, "f"), "inside");
  symlinkSync("../ws-evil", join(v.ws, ".sub-link"));
  symlinkSync("../ws-evil/canary.txt", join(v.ws, ".f-link"));
  writeFileSync(join(v.ws, "g"), "inside");
  symlinkSync("../ws-evil/planted.txt", join(v.ws, ".g-link"));

  const child = spawn(process.execPath, ["-e", SWAPPER, v.ws, String(ms)], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.setEncoding("utf8");
  const ready = new Promise<void>((resolve) => child.stdout.on("data", (chunk: string) => (output += chunk) && resolve()));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  await ready;
  let running = true;
  void exited.then(() => (running = false));

  const outcome: RaceOutcome = { swaps: 0, readsOk: 0, readsRefused: 0, leaks: 0, writes: 0 };
  const reader = async (path: string) => {
    while (running) {
      const res = await fs({ op: "readFile", path, encoding: "utf8" });
      if (res.ok && typeof res.value === "string" && res.value.includes(CANARY)) outcome.leaks++;
      else if (res.ok) outcome.readsOk++;
      else if (res.error.code === "E_CAPABILITY_DENIED") outcome.readsRefused++;
    }
  };
  const writer = async (worker: number) => {
    for (let i = 0; running; i++) {
      await fs({ op: "writeFile", path: "/mnt/ws/f", data: `written-${i}` });
      await fs({ op: "writeFile", path: "/mnt/ws/g", data: `written-${i}` });
      await fs({ op: "writeFile", path: "/mnt/ws/sub/canary.txt", data: `written-${i}` });
      await fs({ op: "writeFile", path: `/mnt/ws/sub/new-${worker}-${i}.txt`, data: "new" });
      await fs({ op: "mkdir", path: `/mnt/ws/sub/made-${worker}-${i}/deeper`, recursive: true });
      outcome.writes += 5;
    }
  };
  const planter = async () => {
    for (let i = 0; running; i++) {
      await fs({ op: "writeFile", path: "/mnt/ws/g", data: `written-${i}` });
      outcome.writes++;
    }
  };
  await Promise.all([reader("/mnt/ws/sub/canary.txt"), reader("/mnt/ws/f"), reader("/mnt/ws/sub/canary.txt"), writer(0), writer(1), planter()]);
  await exited;
  outcome.swaps = Number(output.trim().split("\n").at(-1));
  return outcome;
}
