/**
 * Undo steps for a test file's environment, run in reverse order of setup.
 *
 * A `before` hook registers an undo step right after each thing it creates,
 * so that a setup failing halfway still gets the first half torn down by the
 * `after` hook. Every step runs even when an earlier one throws: a sshd that
 * would not stop must not leave the namespaces behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopAllServices } from './proc.js';

export class Cleanup {
  private readonly steps: { what: string; fn: () => unknown }[] = [];

  defer(what: string, fn: () => unknown): void {
    this.steps.push({ what, fn });
  }

  /** A fresh temp folder, removed at cleanup. */
  tempDir(tag: string): string {
    const dir = mkdtempSync(join(tmpdir(), `bbe2e-${tag}-`));
    this.defer(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
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
