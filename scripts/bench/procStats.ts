import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Clock ticks per second of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS = (() => {
  try {
    return Number.parseInt(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }), 10) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) of one process so far, in milliseconds; undefined once it is gone. */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** CPU milliseconds of each pid at one instant. */
export type CpuSnapshot = Map<number, number>;

export function snapshotCpu(pids: Iterable<number>): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map();
  for (const pid of pids) {
    const ms = cpuMsOf(pid);
    if (ms !== undefined) snapshot.set(pid, ms);
  }
  return snapshot;
}

/**
 * CPU spent between two snapshots by the processes in `after`; a process that appeared in
 * between counts from zero (its whole life fell inside the window).
 */
export function cpuDeltaMs(before: CpuSnapshot, after: CpuSnapshot): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** Peak resident set size (VmHWM) of a process in bytes, or undefined. */
export function peakRssBytes(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function readProc(pid: string, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return undefined;
  }
}

/** Pids of running processes whose command name (/proc/<pid>/comm) is `comm`. */
export function pidsByComm(comm: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && readProc(entry, "comm")?.trim() === comm)
    .map(Number);
}

/**
 * Pids of running processes whose command line contains `needle`, optionally only the
 * children of `parentPid` (so that services started by other test runs are not counted).
 */
export function pidsByCommandLine(needle: string, parentPid?: number): number[] {
  return readdirSync("/proc")
    .filter((entry) => {
      if (!/^\d+$/.test(entry)) return false;
      const cmdline = readProc(entry, "cmdline")?.replaceAll("\0", " ");
      if (!cmdline?.includes(needle)) return false;
      if (parentPid === undefined) return true;
      const stat = readProc(entry, "stat");
      return stat !== undefined && Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parentPid;
    })
    .map(Number);
}

/**
 * Pid of the process listening on TCP `port` on this machine (IPv4 or IPv6), found through
 * the socket inode in /proc/net/tcp*, or undefined (not local, or not ours to read).
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT, st 0A is LISTEN, inode is column 10.
      if (cols.length > 9 && Number.parseInt(cols[1]!.split(":")[1]!, 16) === port && cols[3] === "0A") inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const link = readlinkSync(`/proc/${entry}/fd/${fd}`);
        if (link.startsWith("socket:[") && inodes.has(link.slice(8, -1))) return Number(entry);
      } catch {
        // The fd closed meanwhile.
      }
    }
  }
  return undefined;
}
