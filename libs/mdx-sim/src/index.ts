/**
 * @maas/mdx-sim — a simulator of the mdx REST API (JWT login and refresh, asynchronous power
 * operations with drawn boot times and failures, paging, rate limits) whose VMs, once PowerON, run
 * the `maas worker` their template would. `maas mdx-sim` is its CLI; the vm-scaler's mdx provider
 * is tested against it.
 */
export { MDX_ASSUMPTIONS } from './assumptions';
export { startMdxSim } from './mdx-sim-server';
export type { MdxSim, MdxSimOptions, MdxSimStats } from './mdx-sim-server';
export { drawBootSeconds, parseMdxSimConfig } from './sim-config';
export type { BootFailureMode, BootTimeDistribution, MdxSimConfig, MdxSimProject, MdxSimVm } from './sim-config';
export { TokenIssuer } from './tokens';
export type { TokenCheck, TokenClaims } from './tokens';
export { processGuests, VmFleet, VmStateError, withVmFlags } from './vm-fleet';
export type { GuestLauncher, GuestProcess, SimVmView, VmStatus, VmTask } from './vm-fleet';
export { startLightGuests } from './light-guests';
export type { LightGuestEvent, LightGuests, LightGuestsOptions } from './light-guests';
