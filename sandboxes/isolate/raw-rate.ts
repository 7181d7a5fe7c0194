/**
 * The ceiling the benchmark compares the isolate executor against: how many
 * fresh contexts per second (create + trivial call + release) this machine
 * can make across 2 isolates, measured in a separate Node 24 process so the
 * broker's own work does not share its CPU.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { WardenError } from "../../src/errors.js";

const CHILD = fileURLToPath(new URL("./raw-rate-child.js", import.meta.url));

export function measureRawFreshContexts(durationMs: number): Promise<{ perSecond: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [String(durationMs), "2"], {
      execPath: process.execPath,
      execArgv: ["--no-node-snapshot"],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    let result: { perSecond: number } | undefined;
    child.once("message", (message) => (result = message as { perSecond: number }));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (result) resolve(result);
      else reject(new WardenError("E_SANDBOX_UNAVAILABLE", `raw context benchmark exited with code ${code} before reporting`));
    });
  });
}
