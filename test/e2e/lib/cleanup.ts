/**
 * Undo steps for a test file's environment, run in reverse order of setup.
 *
 * A `before` hook registers an undo step right after each thing it creates,
 * so that a setup failing halfway still gets the first half torn down by the
 * `after` hook. Every step runs even when an earlier one throws: a sshd that
 * would not stop must not leave the namespaces behind.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onEmergency, pidAlive, stopAllServices } from './proc.js';

/**
 * Cleans up after earlier test processes that died before their cleanup ran
 * (killed with SIGKILL, machine trouble). Our temp folders carry the pid of
 * the process that made them (bbe2e-<pid>-<tag>-XXXXXX); a folder whose
 * process is gone is removed, after the programs started with files in it
 * (rsyslogd, syslog-ng: their command lines name their config there).
 */
function sweepStaleTempDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    const m = /^bbe2e-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    const dir = join(tmpdir(), name);
    killProcessesNaming(dir + '/');
    rmSync(dir, { recursive: true, force: true });
  }
}

function killProcessesNaming(path: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(path)) process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}

export class Cleanup {
  private readonly steps: { what: string; fn: () => unknown }[] = [];

  defer(what: string, fn: () => unknown): void {
    this.steps.push({ what, fn });
  }

  /** A fresh temp folder, removed at cleanup (or when the run is interrupted). */
  tempDir(tag: string): string {
    sweepStaleTempDirs();
    const dir = mkdtempSync(join(tmpdir(), `bbe2e-${process.pid}-${tag}-`));
    const remove = () => rmSync(dir, { recursive: true, force: true });
    const forget = onEmergency(remove);
    this.defer(`remove ${dir}`, () => {
      forget();
      remove();
    });
    return dir;
  }

  async run(): Promise<void> {
    const errors: string[] = [];
    // whatever a test left running (held connections, a daemon a failing
    // test never stopped) goes first, before its namespace disappears
    try {
      await stopAllServices();
    } catch (e) {
      errors.push(`stop services: ${(e as Error).message}`);
    }
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.fn();
      } catch (e) {
        errors.push(`${step.what}: ${(e as Error).message}`);
      }
    }
    if (errors.length > 0) throw new Error(`cleanup problems:\n${errors.join('\n')}`);
  }
}
