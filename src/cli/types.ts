/** What every CLI command receives. Commands print results on `stdout`, problems on `stderr`. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Exit codes (SPEC §11): 0 ok, 1 the thing checked failed, 2 usage or config error. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** One command: parsed positional args and flags in, exit code out. */
export type CliCommand = (args: { positionals: string[]; flags: Record<string, string | boolean>; configPath: string }, io: CliIo) => Promise<number>;
