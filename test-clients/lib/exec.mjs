import { spawn } from "node:child_process";

/**
 * Runs a command to completion and captures its output. Never rejects for a non-zero exit:
 * several checks are about a client that is SUPPOSED to fail (no token, wrong token).
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string, timedOut: boolean }>}
 */
export function capture(command, args, { env, cwd, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (c) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c) => (stderr += c));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    const orphanGuard = () => child.kill("SIGKILL"); // the harness exiting early takes its clients along
    process.once("exit", orphanGuard);
    child.once("close", (code, signal) => {
      process.off("exit", orphanGuard);
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Runs async jobs with at most `limit` at once (CI has 2 cores; each stdio check starts a warden). */
export async function pool(jobs, limit) {
  const results = new Array(jobs.length);
  let next = 0;
  async function worker() {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}
