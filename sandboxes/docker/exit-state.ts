/**
 * The container's final state, for telling an OOM kill (E_MEMORY) from a crash.
 * Under runsc (gVisor) the engine records `OOMKilled` from the shim's OOM
 * event, which can arrive after the exit event: measured here, the first
 * inspect after `wait` of a memory bomb under runsc said OOMKilled=false,
 * exit 137. So a SIGKILL that warden did not send is re-read until the flag
 * shows or a short, bounded grace passes.
 */
import type Dockerode from "dockerode";
import { setTimeout as sleep } from "node:timers/promises";
import { engineCall } from "./engine.js";

/** How long a SIGKILLed container's OOM flag may lag its exit. */
export const OOM_FLAG_GRACE_MS = 2_000;
const SIGKILL_STATUS = 128 + 9;

export async function finalState(container: Dockerode.Container, exit: number | null): Promise<Dockerode.ContainerInspectInfo["State"]> {
  let state = (await engineCall("inspect", container.inspect())).State;
  const deadline = Date.now() + OOM_FLAG_GRACE_MS;
  while (!state.OOMKilled && (exit ?? state.ExitCode) === SIGKILL_STATUS && Date.now() < deadline) {
    await sleep(100);
    state = (await engineCall("inspect", container.inspect())).State;
  }
  return state;
}
