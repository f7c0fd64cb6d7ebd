import { pino, type Logger } from 'pino';
import sonicBoom from 'sonic-boom';

// sonic-boom is CommonJS whose module.exports is the class; its types describe an ES default export.
const SonicBoom = sonicBoom as unknown as typeof sonicBoom.SonicBoom;

export type { Logger };

/**
 * Paths that may carry a secret anywhere a request, a body or an error is
 * logged. pino replaces them before the line is written, so a mistake in a
 * log call cannot leak a credential.
 */
const secretPaths = [
  'password',
  'secret',
  'client_secret',
  'code',
  'code_verifier',
  'token',
  'access_token',
  'refresh_token',
  '*.password',
  '*.secret',
  '*.client_secret',
  '*.code',
  '*.code_verifier',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

/** The most log text kept waiting for a slow reader; past it new lines are dropped. */
const backlogLimitBytes = 8 * 1024 * 1024;

/**
 * Standard output, written so that it can never hold the service up:
 * lines are written asynchronously; while the reader is slow (a full pipe)
 * they wait in memory up to a limit, then newer ones are dropped; once the
 * output is gone (a closed pipe: EPIPE) nothing more is written. On exit
 * (flushBeforeExit) what is left is written in one go where the output takes
 * it, and given up where it does not: pino's own exit flush would retry a
 * full or closed pipe forever and the process would never exit.
 */
export class StandardOutput {
  readonly stream: InstanceType<typeof SonicBoom>;
  #exiting = false;
  #broken = false;

  constructor(fd = process.stdout.fd) {
    this.stream = new SonicBoom({ fd, sync: false, maxLength: backlogLimitBytes, retryEAGAIN: () => !this.#exiting });
    this.stream.on('error', () => {
      this.#broken = true;
    });
  }

  flushBeforeExit(): void {
    this.#exiting = true;
    if (this.#broken) return;
    try {
      this.stream.flushSync();
    } catch {
      // The reader takes nothing more (EAGAIN without retries): the rest is dropped.
    }
  }
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'appgrant' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: secretPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
