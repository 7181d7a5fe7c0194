export { Broker, type BrokerOptions, type CallContext, type CallResult, type ConfirmationAnswer, type ConfirmationRequest } from "./broker.js";
export { loadRegistry, loadRegistryPartial, findToolDirs, capLimits, type Registry, type RegisteredTool, type WithheldTool } from "./registry.js";
export { Admission } from "./admission.js";
export { isAllowedFor, isDisabled } from "./scope.js";
