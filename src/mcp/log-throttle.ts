/**
 * What a client's messages can make the server log (#18.2). A read-only token
 * sending batches of responses with unknown ids made the SDK report each one
 * with its whole JSON; logged at warn, the async log buffer grew faster than
 * stderr drained and the process died of heap exhaustion. A session's client-
 * caused log lines are bounded in rate and in size, and carry ids, never bodies.
 */
export const MAX_LINES_PER_WINDOW = 10;
/** All sessions together (a token may hold hundreds of sessions). */
export const MAX_LINES_PER_WINDOW_ALL_SESSIONS = 100;
export const WINDOW_MS = 60_000;
const MAX_TEXT = 160;

export class LogThrottle {
  private windowStart = 0;
  private lines = 0;
  private suppressed = 0;

  constructor(
    private readonly maxLines = MAX_LINES_PER_WINDOW,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns how many lines were suppressed before this one, or null when this one must be dropped too. */
  take(): { suppressedBefore: number } | null {
    const t = this.now();
    if (t - this.windowStart >= WINDOW_MS) {
      const suppressedBefore = this.suppressed;
      this.windowStart = t;
      this.lines = 0;
      this.suppressed = 0;
      this.lines++;
      return { suppressedBefore };
    }
    if (this.lines >= this.maxLines) {
      this.suppressed++;
      return null;
    }
    this.lines++;
    return { suppressedBefore: 0 };
  }
}

/**
 * An SDK error message with any JSON it quotes cut away: "Received a response
 * for an unknown message ID: {…9 KB…}" becomes the sentence plus the id.
 */
export function summarizeClientError(message: string): string {
  const cut = message.search(/[{[]/);
  const head = (cut >= 0 ? message.slice(0, cut) : message).slice(0, MAX_TEXT).replace(/[\s:]+$/, "");
  const id = /"id"\s*:\s*("(?:[^"\\]|\\.){0,64}"|-?\d{1,20})/.exec(message.slice(0, 4096))?.[1];
  return id !== undefined ? `${head} (id ${id})` : head;
}
