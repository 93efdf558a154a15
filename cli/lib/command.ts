/**
 * What every command-line tool of the project shares: the streams it writes to (injectable, so tests drive the tools
 * in-process), one mapping from errors to exit codes and messages, and the "run when executed directly" guard.
 * Exit codes: 0 done, 2 bad arguments or input (the message says which), 1 anything unexpected.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from './args.ts';

export interface CliStreams {
  readonly stdout: { write(s: string): boolean };
  readonly stderr: { write(s: string): boolean; isTTY?: boolean };
}

export const processStreams = (): CliStreams => ({ stdout: process.stdout, stderr: process.stderr });

/**
 * Writes the message for a failed run and returns its exit code: usage errors print the usage too; errors
 * `isInputError` recognises are the user's input (exit 2); anything else is unexpected (exit 1).
 */
export function failWith(
  tool: string,
  usage: string,
  error: unknown,
  streams: CliStreams,
  isInputError: (error: unknown) => boolean,
): number {
  if (error instanceof UsageError) {
    streams.stderr.write(`${tool}: ${error.message}\n${usage}\n`);
    return 2;
  }
  if (isInputError(error)) {
    streams.stderr.write(`${tool}: ${(error as Error).message}\n`);
    return 2;
  }
  streams.stderr.write(`${tool}: unexpected failure: ${(error as Error)?.message ?? String(error)}\n`);
  return 1;
}

/** Runs `main` with the process's arguments when `moduleUrl` is the script node was started with. */
export async function runIfEntry(moduleUrl: string, main: (argv: readonly string[]) => Promise<number>): Promise<void> {
  const entry = process.argv[1];
  if (entry !== undefined && moduleUrl === pathToFileURL(resolve(entry)).href) {
    // A reader that closed the pipe (`… --json | head`) wants no more: stop quietly, as Unix tools do, instead of
    // dying on an unhandled EPIPE with a stack trace.
    for (const stream of [process.stdout, process.stderr]) {
      stream.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') throw error;
        process.exit(process.exitCode ?? 0);
      });
    }
    process.exitCode = await main(process.argv.slice(2));
  }
}
