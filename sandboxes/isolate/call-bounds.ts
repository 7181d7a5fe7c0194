/**
 * Size bounds the ctx shim applies INSIDE the isolate, before an argument is
 * copied out (a hostile review sent 32 concurrent 8 MB paths: the broker's
 * 4,096-character check came only after two copies and an IPC hop, and broker
 * RSS went 115 → 340 MB). Each mirrors a limit the host enforces anyway, so a
 * request refused here would have been refused there.
 */
/** The host's ctx.fs path limit (src/capabilities/filesystem/tool-path.ts MAX_PATH_LENGTH). */
export const MAX_PATH_CHARS = 4096;
/** No real URL comes near this; the host has no tighter URL bound. */
export const MAX_URL_CHARS = 16 * 1024;
/** The host's request header bounds (src/capabilities/network/request-policy.ts). */
export const MAX_HEADERS = 100;
export const MAX_HEADER_CHARS = 32 * 1024;
/** The host's default maxRequestBytes (createToolHost does not raise it). */
export const MAX_FETCH_BODY_BYTES = 1024 * 1024;
/** The host reads files back up to 16 MiB (DEFAULT_MAX_READ_BYTES); a larger write could never be read. */
export const MAX_WRITE_BYTES = 16 * 1024 * 1024;
/** Data of all host calls of one call in flight at once (32 concurrent writes of one 16 MiB string would be 512 MiB). */
export const MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024;
