/**
 * Process exit codes, after BSD sysexits(3), so that scripts and systemd can
 * tell a typo on the command line from a broken config from a failing kernel.
 */
export const ExitCode = {
  OK: 0,
  /** the command line was wrong: unknown option, bad address, missing argument */
  USAGE: 64,
  /** an input file named on the command line does not exist or cannot be read */
  NOINPUT: 66,
  /** an internal error: a bug in banban */
  SOFTWARE: 70,
  /** an operating system error: socket, /proc, fork */
  OSERR: 71,
  /** a file could not be written: the state file at stop */
  IOERR: 74,
  /** the configuration is invalid */
  CONFIG: 78,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that knows which exit code it should end the process with. */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
    this.name = 'ExitError';
  }
}
