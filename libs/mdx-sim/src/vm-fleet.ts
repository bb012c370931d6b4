import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { seededRng } from '@maas/scaling';
import { drawBootSeconds, MdxSimConfig, MdxSimVm } from './sim-config';

export type VmStatus = 'PowerON' | 'PowerOFF' | 'Suspended' | 'NotFound' | 'Deploying' | 'Detached';
/** An asynchronous operation the VM is in the middle of (not visible in `status`). */
export type VmTask = 'deploy' | 'power_on' | 'shutdown' | 'power_off' | 'destroy';

/** What a VM's guest runs once it is up: `maas worker …` as its template's systemd unit would. */
export interface GuestProcess {
  readonly pid: number | undefined;
  signal(signal: NodeJS.Signals): void;
  readonly exited: Promise<void>;
}

export type GuestLauncher = (vm: MdxSimVm) => GuestProcess;

/** Starts `maas worker <template args> --vm-id <id> --worker-id <id>`, its output appended to `<logDir>/<id>.log`. */
export function processGuests(config: MdxSimConfig, logDir: string, maasCommand: readonly string[]): GuestLauncher {
  return (vm) => {
    fs.mkdirSync(logDir, { recursive: true });
    const fd = fs.openSync(path.join(logDir, `${vm.id}.log`), 'a');
    const [program, ...lead] = maasCommand;
    let child: ChildProcess;
    try {
      // not in the simulator's process group: a Ctrl-C on the simulator is not a signal inside a VM
      child = spawn(program, [...lead, 'worker', ...withVmFlags(vm.worker, vm.id)], {
        env: { ...process.env, ...config.env, MAAS_VM_ID: vm.id },
        stdio: ['ignore', fd, fd],
        detached: true,
      });
    } finally {
      fs.closeSync(fd);
    }
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    const pid = child.pid;
    return {
      pid,
      // SIGTERM to the worker alone (systemd's KillMode=mixed); SIGKILL to everything the guest runs
      signal: (s) => {
        if (pid === undefined) return;
        for (const p of s === 'SIGKILL' ? [pid, ...descendants(pid)] : [pid]) {
          try {
            process.kill(p, s);
          } catch {
            /* gone already */
          }
        }
      },
      exited,
    };
  };
}

/** Every process below `pid` (its runtime and the runtime's own children), from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold blanks and parentheses, so read after the last ')'
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const found: number[] = [];
  for (let queue = [pid]; queue.length > 0;) {
    const next = children.get(queue.shift()!) ?? [];
    found.push(...next);
    queue.push(...next);
  }
  return found;
}

/** The template's worker arguments with the VM's identity, before any `--` (the runtime's arguments). */
export function withVmFlags(args: readonly string[], vmId: string): string[] {
  const flags = ['--vm-id', vmId, '--worker-id', vmId];
  const end = args.indexOf('--');
  return end === -1 ? [...args, ...flags] : [...args.slice(0, end), ...flags, ...args.slice(end)];
}

export interface SimVmView {
  readonly vm: MdxSimVm;
  readonly projectId: string;
  readonly status: VmStatus;
  readonly task: VmTask | null;
  readonly boots: number;
  readonly failedBoots: number;
  readonly guestPid: number | undefined;
}

interface SimVm {
  readonly vm: MdxSimVm;
  readonly projectId: string;
  status: VmStatus;
  task: VmTask | null;
  boots: number;
  failedBoots: number;
  /** This boot's guest never starts its worker. */
  hung: boolean;
  guest?: GuestProcess;
  timer?: NodeJS.Timeout;
}

/** Refused because of the VM's state: the API answers 400 with `detail`. */
export class VmStateError extends Error {}

/**
 * The VMs of every project and their asynchronous state changes on the wall clock: power-on takes
 * a drawn boot time and may fail; a guest shutdown stops the worker with SIGTERM (it drains) and
 * halts once it has exited, or after the shutdown timeout; a forced power-off kills it.
 */
export class VmFleet {
  private readonly vms = new Map<string, SimVm>();
  private readonly random: () => number;
  readonly counters = { powerOns: 0, bootFailures: 0, shutdowns: 0, powerOffs: 0, guestsKilled: 0 };

  constructor(
    private readonly config: MdxSimConfig,
    private readonly launch: GuestLauncher,
  ) {
    this.random = seededRng(config.seed);
    for (const p of config.projects) {
      for (const vm of p.vms)
        this.vms.set(vm.id, { vm, projectId: p.id, status: 'PowerOFF', task: null, boots: 0, failedBoots: 0, hung: false });
    }
  }

  get(id: string): SimVmView | undefined {
    const v = this.vms.get(id);
    return v && this.view(v);
  }

  ofProject(projectId: string): SimVmView[] {
    return [...this.vms.values()].filter((v) => v.projectId === projectId).map((v) => this.view(v));
  }

  private view(v: SimVm): SimVmView {
    return {
      vm: v.vm,
      projectId: v.projectId,
      status: v.status,
      task: v.task,
      boots: v.boots,
      failedBoots: v.failedBoots,
      guestPid: v.guest?.pid,
    };
  }

  private require(id: string): SimVm {
    const v = this.vms.get(id);
    if (!v) throw new Error(`no VM ${id}`);
    return v;
  }

  private busy(v: SimVm, what: string): void {
    if (v.task) throw new VmStateError(`VM ${v.vm.id} is busy with ${v.task}; ${what} refused`);
  }

  powerOn(id: string): void {
    const v = this.require(id);
    this.busy(v, 'power_on');
    if (v.status !== 'PowerOFF') throw new VmStateError(`VM ${id} is ${v.status}; power_on needs PowerOFF`);
    v.task = 'power_on';
    v.boots += 1;
    this.counters.powerOns += 1;
    const seconds = drawBootSeconds(this.config.bootSeconds, this.random);
    const fails = v.boots <= v.vm.failFirstBoots || this.random() < this.config.bootFailureRate;
    v.timer = setTimeout(() => {
      v.task = null;
      if (fails) {
        v.failedBoots += 1;
        this.counters.bootFailures += 1;
        if (this.config.bootFailureMode === 'stays-off') return;
        v.hung = true;
        v.status = 'PowerON';
        return;
      }
      v.hung = false;
      v.status = 'PowerON';
      v.guest = this.launch(v.vm);
      const guest = v.guest;
      void guest.exited.then(() => {
        if (v.guest === guest) v.guest = undefined;
      });
    }, seconds * 1000);
  }

  shutdown(id: string): void {
    const v = this.require(id);
    this.busy(v, 'shutdown');
    if (v.status !== 'PowerON') throw new VmStateError(`VM ${id} is ${v.status}; shutdown needs PowerON`);
    this.counters.shutdowns += 1;
    // a hung guest does not answer the ACPI request: it stays on until powered off
    if (v.hung) return;
    v.task = 'shutdown';
    const guest = v.guest;
    guest?.signal('SIGTERM');
    const timeout = new Promise<'timeout'>(
      (resolve) => (v.timer = setTimeout(() => resolve('timeout'), this.config.shutdownTimeoutSeconds * 1000)),
    );
    void Promise.race([guest?.exited ?? Promise.resolve(), timeout]).then((how) => {
      clearTimeout(v.timer);
      if (v.task !== 'shutdown') return; // a power-off overtook it
      if (how === 'timeout') this.kill(v);
      v.timer = setTimeout(() => this.halted(v), this.config.powerOffSeconds * 1000);
    });
  }

  powerOff(id: string): void {
    const v = this.require(id);
    if (v.task === 'power_off') throw new VmStateError(`VM ${id} is busy with power_off`);
    if (v.status === 'PowerOFF' && v.task !== 'power_on') throw new VmStateError(`VM ${id} is PowerOFF already`);
    clearTimeout(v.timer);
    this.counters.powerOffs += 1;
    v.task = 'power_off';
    this.kill(v);
    v.timer = setTimeout(() => this.halted(v), this.config.powerOffSeconds * 1000);
  }

  private kill(v: SimVm): void {
    if (!v.guest) return;
    this.counters.guestsKilled += 1;
    v.guest.signal('SIGKILL');
    v.guest = undefined;
  }

  private halted(v: SimVm): void {
    this.kill(v);
    v.task = null;
    v.hung = false;
    v.status = 'PowerOFF';
  }

  /** Deploys a VM from a template: Deploying, then PowerOFF, then (with `powerOn`) a boot as power_on's. */
  deploy(projectId: string, vm: MdxSimVm, powerOn: boolean): void {
    if (this.vms.has(vm.id)) throw new VmStateError(`a VM ${vm.id} exists already`);
    const v: SimVm = { vm, projectId, status: 'Deploying', task: 'deploy', boots: 0, failedBoots: 0, hung: false };
    this.vms.set(vm.id, v);
    v.timer = setTimeout(
      () => {
        v.task = null;
        v.status = 'PowerOFF';
        if (powerOn) this.powerOn(vm.id);
      },
      drawBootSeconds(this.config.deploySeconds, this.random) * 1000,
    );
  }

  /** Deletes a PowerOFF VM; it is gone (404) once the task ends. */
  destroy(id: string): void {
    const v = this.require(id);
    this.busy(v, 'destroy');
    if (v.status !== 'PowerOFF') throw new VmStateError(`VM ${id} is ${v.status}; destroy needs PowerOFF`);
    v.task = 'destroy';
    v.timer = setTimeout(() => this.vms.delete(id), this.config.powerOffSeconds * 1000);
  }

  /** Kills every guest and waits for them (the simulator is stopping). */
  async close(): Promise<void> {
    const guests = [...this.vms.values()].flatMap((v) => {
      clearTimeout(v.timer);
      const g = v.guest;
      if (!g) return [];
      g.signal('SIGKILL');
      return [g.exited];
    });
    await Promise.all(guests);
  }
}
