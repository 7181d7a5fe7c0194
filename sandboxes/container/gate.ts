/**
 * The container's entrypoint: a warden-controlled step that runs NOTHING of the
 * tool before its call (issue 17, item 2). A pooled container is created and
 * started (the expensive part of `docker run`), but its PID 1 is this shell,
 * blocked reading one empty line from stdin; warden writes that line, then the
 * call's input, only when the call starts. Then the tool's command runs under
 * `timeout -s KILL`: a hard wall-clock bound of the container's own, so a call
 * whose warden died (kill -9) cannot outlive its deadline by more than the
 * grace, with no reaper pass needed.
 *
 * Passed inline (`sh -c`), not bind-mounted: nothing on the engine's host to
 * keep in sync, and it works on a remote engine. It needs `/bin/sh` and
 * `timeout` (coreutils) in the image — every image built on warden/base has
 * both; an image without them fails its calls with the shell's message.
 *
 * - A warden that dies before the call closes the attach stream: `read` sees
 *   EOF and the pooled container exits 0 without running the tool.
 * - `exec` keeps stdin as is: dash's `read` consumes exactly one line (byte by
 *   byte on a pipe), so the tool reads the input line, then EOF.
 * - `timeout` becomes PID 1: the tool cannot kill or stop it (init ignores
 *   signals it has no handler for from inside its namespace, SIGKILL and
 *   SIGSTOP included), and a TERM it sends is forwarded while the alarm stays
 *   armed. Killing or stopping the inner shell ends (or, at the alarm, kills)
 *   the whole container: timeout kills its process group and exits, and the
 *   kernel kills everything left in the pid namespace when PID 1 ends.
 */
/**
 * The stderr line the gate writes once the tool's process exited. stdout and stderr are two pipes with no
 * order between them, so log lines written before the result may arrive after it; this line comes after
 * all of them on stderr, long before the engine reports the exit (hundreds of ms on a busy host). A tool
 * that forges it only cuts its own log short.
 */
export const GATE_EXITED_LINE = "[warden-gate] the tool exited";

/** `$0` of the inner shell is the exited line; `$@` the tool's argv. */
export const GATE_SCRIPT =
  'IFS= read -r _ || exit 0; limit="$1"; shift; ' +
  `exec timeout -s KILL "$limit" /bin/sh -c '"$@"; s=$?; printf "%s\\n" "$0" >&2; exit $s' '${GATE_EXITED_LINE}' "$@"`;

/** The line that releases the gate; the input line follows it. */
export const GATE_RELEASE = "\n";

/** Seconds the container may run after its call started, beyond the call's own deadline. */
export const HARD_BOUND_GRACE_S = 5;

/** Entrypoint and Cmd of a gated container running `argv` with a hard bound of timeoutMs + grace. */
export function gatedCommand(argv: string[], timeoutMs: number): { Entrypoint: string[]; Cmd: string[] } {
  const limit = Math.ceil(timeoutMs / 1000) + HARD_BOUND_GRACE_S;
  return { Entrypoint: ["/bin/sh", "-c", GATE_SCRIPT, "warden-gate", `${limit}s`], Cmd: argv };
}
