/** Runs the project's command-line tools in-process, as a user would run them, with their output captured. */
import type { CliStreams } from '../../cli/lib/command.ts';

/** Streams that keep what a tool writes; read `out` and `err` afterwards. */
export function captureStreams(): { streams: CliStreams; readonly out: string; readonly err: string } {
  let out = '';
  let err = '';
  return {
    streams: {
      stdout: {
        write: (s: string) => {
          out += s;
          return true;
        },
      },
      stderr: {
        write: (s: string) => {
          err += s;
          return true;
        },
      },
    },
    get out() {
      return out;
    },
    get err() {
      return err;
    },
  };
}

/** `main(argv, streams)` of a tool: its exit code and what it printed. */
export async function runCli(
  main: (argv: readonly string[], streams: CliStreams) => Promise<number>,
  argv: readonly string[],
): Promise<{ code: number; out: string; err: string }> {
  const c = captureStreams();
  const code = await main(argv, c.streams);
  return { code, out: c.out, err: c.err };
}
