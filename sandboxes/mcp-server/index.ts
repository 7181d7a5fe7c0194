export { createMcpServerExecutor, McpServerExecutor, STARTUP_BUDGET_MS, CANCEL_GRACE_MS, type McpServerExecutorOptions, type EgressProvider } from "./mcp-server-executor.js";
export { probeServer } from "./probe.js";
