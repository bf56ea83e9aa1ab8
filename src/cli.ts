/**
 * The command-line program. Streams and argv are parameters, so tests drive
 * it in-process; only `main.ts` touches process.argv and process.exit.
 *
 *   run      the daemon, in the foreground (systemd Type=simple)
 *   check    validate a config and summarise it
 *   test     replay a log file through the daemon's own matcher and windows
 *   list     show the kernel lists
 *   block    add an address to a list by hand
 *   unblock  remove an address from every list (or one)
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
import { loadConfig } from './config/load.js';
import { ConfigError, formatProblem } from './config/problems.js';
import { DEFAULT_CONFIG_FILE, DEFAULTS, TARGET_NAME_RE, type Config } from './config/schema.js';
import type { Daemon } from './daemon.js';
import { XtRecentLists } from './enforce/xt-recent.js';
import { ExitCode, ExitError } from './lib/exit-codes.js';
import { ipv6Network, parseIp } from './lib/ip.js';
import type { LogFormat } from './lib/log.js';
import type { NotifyOutcome } from './lib/systemd-notify.js';
import { deferredPrefixes } from './match/matcher.js';
import { replayLog, type ReplayReport } from './replay.js';

export interface Io {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  /** resolves when the process is asked to stop; `run` waits on it */
  signals?: SignalSource;
}

export interface SignalSource {
  on(signal: 'SIGHUP' | 'SIGTERM' | 'SIGINT', handler: () => void): void;
}

export const VERSION = '0.1.0';

/** Runs the program; resolves with the exit code. Never calls process.exit. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  let code: number = ExitCode.OK;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // `commander.help` with a non-zero exitCode: no command was given, and the help went to stderr.
      const asked = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0);
      return asked ? ExitCode.OK : ExitCode.USAGE;
    }
    if (err instanceof ExitError) {
      io.stderr.write(`banban: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      for (const p of err.problems) io.stderr.write(`${formatProblem(p, p.source)}\n`);
      io.stderr.write(`banban: ${err.message}\n`);
      return ExitCode.CONFIG;
    }
    io.stderr.write(`banban: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return ExitCode.SOFTWARE;
  }
  return code;
}

function buildProgram(io: Io, setCode: (c: number) => void): Command {
  const program = new Command('banban')
    .description('Real-time intrusion prevention: syslog lines in, xt_recent bans out')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run banban --help for usage)');

  const configOpt = () => new Option('-c, --config <file>', 'config file').default(DEFAULT_CONFIG_FILE);
  const procOpt = () => new Option('--proc-dir <dir>', 'folder of the kernel lists (tests and trials)');

  program
    .command('run')
    .description('run the daemon in the foreground (SIGHUP reloads, SIGTERM stops)')
    .addOption(configOpt())
    .addOption(procOpt())
    .option('--state-file <file>', "where windows and bans are saved (overrides the config's state_file)")
    .option('--save-every <seconds>', 'how often windows and bans are saved when they changed', '60')
    .option('--dry-run', 'log what would be written to the kernel lists, write nothing', false)
    .addOption(new Option('--log-format <format>', 'log lines as JSON (journald) or for people').choices(['json', 'pretty']).default('json'))
    .addOption(new Option('--log-level <level>', 'least severe level logged').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .action(async (o: RunOptions) => {
      setCode(await runDaemon(o, io));
    });

  program
    .command('check')
    .description('validate a config and print what it does')
    .addOption(configOpt())
    .addOption(procOpt())
    .action((o: { config: string; procDir?: string }) => {
      const { config, warnings } = loadConfig(o.config, { procDir: o.procDir });
      for (const w of warnings) io.stderr.write(`${formatProblem(w, w.source)}\n`);
      io.stdout.write(summarise(config));
    });

  program
    .command('test')
    .description('replay a log file (or - for stdin) through the matcher and windows; writes nothing')
    .argument('<log>', 'log file, or - for standard input')
    .addOption(configOpt())
    .option('--json', 'print one JSON object', false)
    .option('--year <year>', 'year of the first line, for timestamps that have none', String(new Date().getUTCFullYear()))
    .action(async (log: string, o: { config: string; json: boolean; year: string }) => {
      const year = Number(o.year);
      if (!Number.isInteger(year) || year < 1970 || year > 9999) throw new ExitError(`--year '${o.year}' is not a year: give one from 1970 to 9999, such as --year ${new Date().getUTCFullYear()}`, ExitCode.USAGE);
      const { config } = loadConfig(o.config);
      const report = await replayLog(config, logChunks(log, io), year);
      // --json keeps stdout to the one object; what the daemon would skip is said on stderr.
      if (o.json && report.skipped.length > 0) io.stderr.write(`banban test: ${describeSkipped(report)}\n`);
      if (o.json) writeJsonReport(io.stdout, report);
      else io.stdout.write(describeReport(report));
    });

  program
    .command('list')
    .description('show the addresses in the kernel lists, with their age in seconds')
    .argument('[target]', 'one list; all when absent')
    .addOption(procOpt().default(DEFAULTS.procDir))
    .option('--json', 'print JSON', false)
    .action((target: string | undefined, o: { procDir: string; json: boolean }) => {
      const lists = new XtRecentLists(o.procDir);
      const names = target === undefined ? osCall(() => lists.targets(), o.procDir) : [checkTarget(target)];
      const result: Record<string, { ip: string; age: number | null }[]> = {};
      for (const name of names) {
        result[name] = osCall(() => lists.read(name, { ages: true }), `${o.procDir}/${name}`).map((e) => ({ ip: e.ip, age: e.ageSeconds ?? null }));
      }
      if (o.json) {
        io.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      if (names.length === 0) io.stdout.write(`no lists in ${o.procDir}: a list exists once an iptables rule with -m recent --name NAME is loaded (see examples/iptables.rules)\n`);
      for (const [name, entries] of Object.entries(result)) {
        io.stdout.write(`${name} (${entries.length})\n`);
        for (const e of entries) io.stdout.write(`  ${e.ip.padEnd(39)} ${e.age === null ? '-' : `${e.age}s`}\n`);
      }
    });

  program
    .command('block')
    .description('add an address to a kernel list')
    .argument('<ip>', 'IPv4 or IPv6 address')
    .requiredOption('-t, --target <target>', 'list name')
    .addOption(procOpt().default(DEFAULTS.procDir))
    .action((ip: string, o: { target: string; procDir: string }) => {
      const addr = checkIp(ip);
      const target = checkTarget(o.target);
      osCall(() => new XtRecentLists(o.procDir).write(target, '+', addr), `${o.procDir}/${target}`);
      io.stdout.write(`blocked ${addr} in ${target}\n`);
    });

  program
    .command('unblock')
    .description('remove an address from every kernel list, or from one')
    .argument('<ip>', 'IPv4 or IPv6 address')
    .option('-t, --target <target>', 'only this list')
    .addOption(procOpt().default(DEFAULTS.procDir))
    .action((ip: string, o: { target?: string; procDir: string }) => {
      const addr = checkIp(ip);
      const lists = new XtRecentLists(o.procDir);
      const names = o.target !== undefined ? [checkTarget(o.target)] : osCall(() => lists.targets(), o.procDir);
      // The kernel takes `-ADDR` for an address it does not hold without a word: say where it was.
      const held = names.filter((name) => osCall(() => lists.read(name), `${o.procDir}/${name}`).some((e) => e.ip === addr));
      for (const name of names) osCall(() => lists.write(name, '-', addr), `${o.procDir}/${name}`);
      const absent = names.filter((name) => !held.includes(name));
      if (names.length === 0) io.stdout.write(`${addr}: there are no lists in ${o.procDir}\n`);
      else if (held.length === 0) {
        // with ipv6_prefix, the lists hold networks: name one that holds the address
        const parsed = addr.includes(':') ? parseIp(addr) : undefined;
        const nets = new Set<string>();
        if (parsed?.ok) for (let p = 48; p < 128; p++) nets.add(ipv6Network(parsed.value, p).text);
        nets.delete(addr);
        const inNet = names.flatMap((name) => osCall(() => lists.read(name), `${o.procDir}/${name}`).filter((e) => nets.has(e.ip)).map((e) => `${e.ip} in ${name}`));
        const hint = inNet.length > 0 ? `; it is in a banned network (ipv6_prefix): ${inNet.join(', ')}, which \`banban unblock NETWORK\` lifts` : '';
        io.stdout.write(`${addr} was in no list (${names.join(', ')}): nothing to unblock${hint}\n`);
      }
      else io.stdout.write(`unblocked ${addr} in ${held.join(', ')}${absent.length ? ` (it was not in ${absent.join(', ')})` : ''}\n`);
    });

  return program;
}

interface RunOptions {
  config: string;
  procDir?: string;
  stateFile?: string;
  saveEvery: string;
  dryRun: boolean;
  logFormat: LogFormat;
  logLevel: string;
}

async function runDaemon(o: RunOptions, io: Io): Promise<number> {
  const saveEvery = Number(o.saveEvery);
  if (!(saveEvery >= 0.1 && saveEvery <= 86400)) throw new ExitError(`--save-every '${o.saveEvery}' must be a number of seconds from 0.1 to 86400`, ExitCode.USAGE);
  // The signal handlers come first: until they are in place, a SIGHUP (`systemctl reload` right
  // after a start) would kill the process with the default action, and systemd does not restart a
  // service that a SIGHUP ended. What arrives before the daemon has started waits for it.
  const signals = io.signals ?? process;
  let daemon: Daemon | undefined;
  let stopping = false;
  let early: 'reload' | { stop: string } | undefined;
  let stop = (signal: string) => {
    if (daemon === undefined) early = { stop: signal };
  };
  signals.on('SIGTERM', () => stop('SIGTERM'));
  signals.on('SIGINT', () => stop('SIGINT'));
  signals.on('SIGHUP', () => {
    if (daemon === undefined) early ??= 'reload';
    else if (!stopping) daemon.reload();
  });
  // Loaded here, not at the top: `banban test` and `check` need neither the socket nor the logger, and
  // start ~30 ms sooner without them.
  const [{ Daemon }, { createLogger }, { SocketError, sendDatagram }, { SystemdNotifier }] = await Promise.all([
    import('./daemon.js'),
    import('./lib/log.js'),
    import('./source/syslog-socket.js'),
    import('./lib/systemd-notify.js'),
  ]);
  const log = createLogger({ format: o.logFormat, level: o.logLevel });
  log.info({ config: o.config }, 'starting');
  const systemd = new SystemdNotifier(process.env, sendDatagram);
  const tell = (outcome: NotifyOutcome) => {
    if (outcome?.sent === false) log.warn(`${outcome.reason}: systemd was not told (with Type=notify it stops banban when its start times out)`);
  };
  try {
    daemon = Daemon.start({ configFile: o.config, procDir: o.procDir, stateFile: o.stateFile, saveMs: saveEvery * 1000, dryRun: o.dryRun, log });
  } catch (err) {
    if (err instanceof SocketError) {
      log.fatal({ code: err.code }, err.message);
      log.flush();
      return ExitCode.OSERR;
    }
    throw err;
  }
  const running = daemon;
  tell(systemd.ready(`serving ${o.config}`));
  return new Promise<number>((resolve) => {
    stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      tell(systemd.stopping());
      running.stop().then(
        (saved) => log.flush(() => resolve(saved ? ExitCode.OK : ExitCode.IOERR)),
        (err: unknown) => {
          log.fatal({ err: err instanceof Error ? err.stack : String(err) }, 'stopping failed');
          log.flush(() => resolve(ExitCode.SOFTWARE));
        },
      );
    };
    if (early === 'reload') running.reload();
    else if (early !== undefined) stop(early.stop);
    if (io.signals === undefined) {
      // A bug that escaped every handler: the process state is no longer trustworthy. Save what was
      // decided, say what happened, and exit 70 so that systemd (Restart=on-failure) starts a clean one.
      const die = (what: string, err: unknown) => {
        log.fatal({ err: err instanceof Error ? err.stack : String(err) }, `${what}: saving state and exiting for a restart`);
        const exit = () => log.flush(() => resolve(ExitCode.SOFTWARE));
        try {
          running.stop().then(exit, exit);
        } catch {
          exit();
        }
      };
      process.on('uncaughtException', (err) => die('uncaught exception', err));
      process.on('unhandledRejection', (err) => die('unhandled promise rejection', err));
    }
  });
}

/**
 * The log's bytes as they are read: stdin for '-', else a file. A file that
 * cannot be opened, or read (a directory opens, and fails at the first
 * read), ends the command with NOINPUT and what to do, not an internal error.
 *
 * A file is read with plain blocking reads into one buffer, handed on and
 * read into again (replayLog takes each piece before it asks for the next).
 * A read stream costs more than the reading: 46 ms against 20 for the bench
 * corpus's 34 MB here, a new 256 KiB buffer and a trip through the event
 * loop each piece. The command waits on nothing else meanwhile; a FIFO
 * (`<(journalctl ...)`) blocks a read until its writer writes, as it should.
 */
function logChunks(file: string, io: Io): Iterable<Buffer> | AsyncIterable<Buffer> {
  if (file === '-') return io.stdin as AsyncIterable<Buffer>;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw unreadableLog(file, err as NodeJS.ErrnoException);
  }
  return (function* () {
    const buf = Buffer.allocUnsafe(256 * 1024);
    try {
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch (err) {
          throw unreadableLog(file, err as NodeJS.ErrnoException);
        }
        if (n === 0) return;
        yield buf.subarray(0, n);
      }
    } finally {
      closeSync(fd);
    }
  })();
}

function unreadableLog(file: string, err: NodeJS.ErrnoException): ExitError {
  const why =
    err.code === 'ENOENT'
      ? 'no such file'
      : err.code === 'EISDIR'
        ? 'it is a directory; give a log file, such as /var/log/auth.log'
        : err.code === 'EACCES' || err.code === 'EPERM'
          ? 'permission denied; run banban test as root or make the file readable'
          : err.message;
  return new ExitError(`cannot read log file ${file}: ${why}`, ExitCode.NOINPUT);
}

/**
 * `banban test --json`: one object. The matches and the repeated ends are written from their
 * columns (replay-matches.ts), the rest by JSON.stringify: the same text as stringifying it all.
 */
function writeJsonReport(out: Writable, r: ReplayReport): void {
  const rest = JSON.stringify({ rejected: r.rejected, blocked: r.blocked, unblocked: r.unblocked, finally: r.finally, undated: r.undated, backwards: r.backwards });
  out.write(`{"lines":${r.lines},"matches":`);
  for (const chunk of r.matches.jsonChunks()) out.write(chunk);
  out.write(',"repeated":');
  for (const chunk of r.repeated.jsonChunks()) out.write(chunk);
  out.write(`,${rest.slice(1)}\n`);
}

function describeReport(r: ReplayReport): string {
  const out: string[] = [`${r.lines} lines, ${r.matches.length} matches`, '', 'hits per pattern:'];
  for (const [where, n] of Object.entries(r.hits)) {
    const uncounted = r.uncounted[where];
    out.push(`  ${String(n).padStart(7)}  ${where}  ${gist(r.patterns[where] ?? '')}${uncounted ? `  (+${uncounted} not counted: a second end line)` : ''}`);
  }
  // an address in both lists: said beside the decision that did not come last
  out.push('', `would block (${r.blocked.length}):`);
  for (const b of r.blocked) out.push(`  ${b.ip.padEnd(39)} ${b.target} (${b.blocktype}${r.finally[b.ip] === 'unblocked' ? ', then unblocked by a good line' : ''})`);
  out.push('', `would unblock (${r.unblocked.length}):`);
  for (const ip of r.unblocked) out.push(`  ${ip}${r.finally[ip] === 'blocked' ? ' (then blocked again)' : ''}`);
  const ignored = r.matches.ignored;
  if (ignored) out.push('', `${ignored} matches inside ignorenets, not counted`);
  if (r.repeated.length) out.push('', `${r.repeated.length} matches not counted: the second line of a connection's end, whose process had counted its end already (endpatterns)`);
  if (r.rejected.length) {
    out.push('', `${r.rejected.length} matches captured no usable address:`);
    for (const x of r.rejected.slice(0, 20)) out.push(`  line ${x.line}: ${x.rule}: ${x.reason}`);
  }
  if (r.skipped.length) out.push('', describeSkipped(r));
  if (r.undated) {
    out.push(
      '',
      `${r.undated} matched lines carry no timestamp: each counts at the time of the line before it (all at one moment when no line has one), so more may be blocked here than the daemon would; replay a log with timestamps (a syslog file, journalctl -o short-iso)`,
    );
  }
  if (r.backwards) {
    out.push('', `${r.backwards} lines have a timestamp more than a minute before a line above them (logs merged out of order, a clock set back): an offence older than its window's newest by more than the interval is not counted`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * A pattern as the hits list shows it: what tells it from its neighbours,
 * on one line. The tag part most patterns start with (`^sshd(?:-session)?\[\d+\]: `,
 * up to the first `: ` when no space comes before it) is left out, and what
 * is past 72 characters.
 */
function gist(source: string): string {
  const tagEnd = source.indexOf(': ');
  const body = tagEnd > 0 && tagEnd < 64 && !source.slice(0, tagEnd).includes(' ') ? source.slice(tagEnd + 2) : source.replace(/^\^/, '');
  return body.length > 72 ? `${body.slice(0, 71)}…` : body;
}

/** `3 lines skipped, as the daemon would skip them: too long 2 (line 7, ...), NUL byte 1 (line 9)` */
function describeSkipped(r: ReplayReport): string {
  const by = new Map<string, number[]>();
  for (const s of r.skipped) {
    const lines = by.get(s.reason);
    if (lines) lines.push(s.line);
    else by.set(s.reason, [s.line]);
  }
  const parts = [...by].map(([reason, lines]) => `${reason} ${lines.length} (line ${lines.slice(0, 5).join(', ')}${lines.length > 5 ? ', ...' : ''})`);
  return `${r.skipped.length} lines skipped, as the daemon would skip them: ${parts.join('; ')}`;
}

function summarise(c: Config): string {
  // A rule from an included file names it before its key path: `sshd:blocktypes.sshd.patterns[3]`.
  const originOf = (where: string): string | undefined => {
    const m = /^(.+):(?:goodpatterns\[\d+\]|blocktypes\.[A-Za-z0-9_.-]+\.(?:end)?patterns\[\d+\])$/.exec(where);
    return m === null ? undefined : m[1];
  };
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  // Include order: each preset brings a blocktype, in include order; a file with only good patterns comes last.
  const included = [...new Set([...c.blocktypes.flatMap((b) => b.patterns), ...c.goodpatterns].map((r) => originOf(r.where)).filter((o) => o !== undefined))];
  const out = [`config ${c.file} is valid`, `socket      ${c.socket}`];
  if (included.length) out.push(`include     ${included.join(', ')}`);
  const goodFrom = new Map<string, number>();
  for (const r of c.goodpatterns) {
    const o = originOf(r.where) ?? 'this file';
    goodFrom.set(o, (goodFrom.get(o) ?? 0) + 1);
  }
  const goodDetail = included.length && c.goodpatterns.length ? ` (${[...goodFrom].map(([o, n]) => `${n} from ${o}`).join(', ')})` : '';
  out.push(`goodpatterns ${c.goodpatterns.length}${goodDetail}`);
  if (c.sessionpatterns.length) out.push(`sessionpatterns ${c.sessionpatterns.length}`);
  out.push(`ignorenets  ${c.ignorenetsText.length ? c.ignorenetsText.join(', ') : '(none)'}`);
  out.push(`ipv6_prefix /${c.ipv6Prefix}${c.ipv6Prefix === 128 ? ' (each IPv6 address counted and banned on its own)' : ` (an IPv6 address is counted and banned as its /${c.ipv6Prefix} network)`}`);
  out.push(`proc_dir    ${c.procDir}`, `state_file  ${c.stateFile}`, `max_tracked ${c.maxTracked} per blocktype`, `max_line    ${c.maxLine}`, 'blocktypes:');
  for (const b of c.blocktypes) {
    // Where the patterns came from: a preset, or this file (its own blocktype, or its patterns: replacing a preset's).
    const origins = [...new Set(b.patterns.map((r) => originOf(r.where) ?? 'this file'))];
    const from = included.length ? ` (patterns from ${origins.join(', ')})` : '';
    const ends = b.patterns.filter((r) => r.perProcess).length;
    const count = ends === 0 ? plural(b.patterns.length, 'pattern') : `${plural(b.patterns.length - ends, 'pattern')} + ${ends} endpattern${ends === 1 ? '' : 's'}`;
    out.push(
      `  ${b.name}: ${count}${from}, block in ${b.target} after ${b.minocc} within ${b.interval}s for ${b.bantime}s${b.resetconns ? ', reset connections' : ''}`,
    );
    if (b.deferTo.length > 0) {
      // which lines it leaves to whom, and which of the blocktypes it names this config does not have
      const to = deferredPrefixes(c.blocktypes, b);
      const absent = b.deferTo.filter((n) => !to.some((d) => d.blocktype === n));
      const parts = to.map((d) => `${d.blocktype} (${d.prefixes.length ? `lines starting ${d.prefixes.map((p) => `'${p}'`).join(', ')}` : 'no line: none of its patterns starts with a program name'})`);
      out.push(
        parts.length
          ? `    defers to ${parts.join(', ')}${absent.length ? `; not in this config: ${absent.join(', ')}` : ''}`
          : `    defers to ${absent.join(', ')}, none of them in this config: it reads every program's lines`,
      );
    }
  }
  out.push(`targets     ${[...new Set(c.blocktypes.map((b) => b.target))].join(', ')}`);
  return `${out.join('\n')}\n`;
}

function checkIp(raw: string): string {
  const ip = parseIp(raw);
  if (!ip.ok) throw new ExitError(`'${raw}' is not an address banban can block: ${ip.reason}`, ExitCode.USAGE);
  return ip.value.text;
}

function checkTarget(raw: string): string {
  if (!TARGET_NAME_RE.test(raw)) throw new ExitError(`'${raw}' is not a valid list name (letters, digits, '_', '.', '-'; at most 199)`, ExitCode.USAGE);
  return raw;
}

/** Runs a /proc operation, turning failures into messages that say what to do. */
function osCall<T>(fn: () => T, path: string): T {
  try {
    return fn();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw new ExitError(`${path} does not exist: no iptables rule uses that list yet (see examples/iptables.rules), or xt_recent is not loaded`, ExitCode.OSERR);
    }
    if (e.code === 'EACCES' || e.code === 'EPERM') throw new ExitError(`${path}: permission denied (run as root or as the list's ip_list_uid)`, ExitCode.OSERR);
    if (e.code === 'EINVAL') throw new ExitError(`${path}: the kernel refused the command`, ExitCode.OSERR);
    throw new ExitError(`${path}: ${e.message}`, ExitCode.OSERR);
  }
}
