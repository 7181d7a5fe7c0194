import type { CliCommand, CliIo } from "../../src/cli/types.js";

export interface Captured {
  code: number;
  out: string;
  err: string;
}

/** Runs one CLI command with captured stdout/stderr (what the operator's terminal would receive). */
export async function runCommand(command: CliCommand, positionals: string[], configPath: string, flags: Record<string, string | boolean> = {}): Promise<Captured> {
  let out = "";
  let err = "";
  const io: CliIo = { stdout: (t) => void (out += t), stderr: (t) => void (err += t) };
  const code = await command({ positionals, flags, configPath }, io);
  return { code, out, err };
}

/** Characters a terminal acts on or reorders: none may come from a tool folder unescaped. */
// eslint-disable-next-line no-control-regex
export const TERMINAL_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/u;
