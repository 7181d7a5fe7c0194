/**
 * A started one-shot tool container: its stdio collected (bounded stdout,
 * bounded stderr lines) from before `start`, its PID 1 the gate blocked on
 * stdin until its call arrives.
 */
import type Dockerode from "dockerode";
import { startContainer, type AfterStart, type StartedContainer } from "../docker/sandbox.js";
import { StdioCollector } from "./stdio-collector.js";

export interface StartedSandbox extends StartedContainer {
  collector: StdioCollector;
}

export async function startSandbox(docker: Dockerode, spec: Dockerode.ContainerCreateOptions, egressNetwork?: string, afterStart?: AfterStart): Promise<StartedSandbox> {
  const collector = new StdioCollector();
  const started = await startContainer(docker, spec, {
    ...(egressNetwork ? { egressNetwork } : {}),
    ...(afterStart ? { afterStart } : {}),
    onData: (chunk) => collector.push(chunk),
    onEnd: () => collector.end(),
  });
  return { ...started, collector };
}
