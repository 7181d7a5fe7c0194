/**
 * Per-call bounds on what a hosted server may push to the client besides its
 * result (review F1, F14): a server's log and progress notifications reach the
 * client, so without a bound one call could send hundreds of MB past its
 * `outputBytes` (and fill warden's memory behind a slow HTTP client). Same
 * numbers as the other backends: 1,000 notifications a call, log text cut to
 * 8,192 characters, 500 progress updates; the first one dropped says so.
 */
export const MAX_NOTIFICATIONS_PER_CALL = 1000;
export const MAX_LOG_CHARS = 8192;
export const MAX_PROGRESS_PER_CALL = 500;

export class NotificationBudget {
  private logs = 0;
  private progress = 0;
  private told = false;

  constructor(private readonly onDropped: (what: string) => void) {}

  /** The log text to forward (cut), or null when the call's budget is spent. */
  log(message: string): string | null {
    if (++this.logs > MAX_NOTIFICATIONS_PER_CALL) return this.drop("log");
    return message.length > MAX_LOG_CHARS ? `${message.slice(0, MAX_LOG_CHARS)}… [cut at ${MAX_LOG_CHARS} characters]` : message;
  }

  /** Whether this progress update may be forwarded. */
  progressAllowed(): boolean {
    if (++this.progress > MAX_PROGRESS_PER_CALL) return this.drop("progress") !== null;
    return true;
  }

  private drop(what: string): null {
    if (!this.told) {
      this.told = true;
      this.onDropped(what);
    }
    return null;
  }
}
