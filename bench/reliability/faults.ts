/**
 * Fault injection for the replay harness, on the very DynamoDB client the updater handler uses (SDK middleware, so
 * the adapters and the handler run unmodified):
 * - per HTTP attempt, inside the SDK's retry loop: a share of attempts is throttled before it reaches DynamoDB
 *   (ProvisionedThroughputExceededException), or reaches DynamoDB, is applied, and loses its response (a connection
 *   reset). The SDK retries both, so the second kind replays a conditional write that already succeeded: exactly the
 *   ambiguity real networks produce.
 * - per call, outside the SDK's retries: a share of calls fails even after the SDK gave up (half of them after the
 *   write was applied), so the updater's own failure paths run.
 * - per invocation: a crash in the middle of a batch. From a random DynamoDB call on, the invocation's calls never
 *   complete and the invocation fails, as when a Lambda container dies or times out: whatever it wrote before stays
 *   written, the rest never happens. Invocations are told apart with AsyncLocalStorage, so two updaters running
 *   concurrently in this process crash independently.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { type DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { createRng, type Rng } from '../../shared/core/random.ts';

export interface FaultPlan {
  /** Share of HTTP attempts that fail (and are retried by the SDK). */
  attemptFaultRate: number;
  /** Share of calls that fail after the SDK's retries, visible to the updater. */
  exhaustedFaultRate: number;
  /** Share of invocations that crash mid-batch (besides those in `crashInvocations`). */
  crashRate: number;
  /** Invocations (1-based, counted per injector) that crash whatever the rate, so every run has some. */
  crashInvocations: number[];
  /** SDK attempts per call (the SDK default is 3). */
  maxAttempts: number;
  /** Upper bound of the jittered delay between SDK attempts, ms (shortened from the SDK's seconds to keep runs short). */
  retryDelayMs: number;
  seed: number;
}

export interface FaultCounters {
  calls: number;
  attempts: number;
  throttled: number;
  lostResponses: number;
  exhausted: number;
  crashes: number;
  invocations: number;
  /** Conditional writes to `conflictTable` refused: lost races between writers, or replays of applied writes. */
  conflicts: number;
}

/** The error a crashed invocation fails with. */
export class InjectedCrash extends Error {
  constructor(afterCalls: number) {
    super(`injected crash after ${afterCalls} DynamoDB calls`);
    this.name = 'InjectedCrash';
  }
}

interface Invocation {
  callsLeft: number | undefined;
  crashed: boolean;
  calls: number;
  crash: (err: Error) => void;
}

const never = () => new Promise<never>(() => {});

export class FaultInjector {
  readonly counters: FaultCounters = {
    calls: 0,
    attempts: 0,
    throttled: 0,
    lostResponses: 0,
    exhausted: 0,
    crashes: 0,
    invocations: 0,
    conflicts: 0,
  };
  private readonly rng: Rng;
  private readonly invocation = new AsyncLocalStorage<Invocation>();
  /** Faults apply only while armed (setup and verification run clean). */
  armed = false;

  constructor(private readonly plan: FaultPlan) {
    this.rng = createRng(plan.seed);
  }

  /**
   * Adds the fault middleware to `client` and swaps its retry strategy for the plan's attempts and delays. Refused
   * conditional writes to `conflictTable` are counted.
   */
  install(client: DynamoDBClient, conflictTable?: string): void {
    const rng = this.rng;
    const c = this.counters;
    const plan = this.plan;
    client.middlewareStack.add(
      (next) => async (args) => {
        const inv = this.invocation.getStore();
        if (!this.armed) return next(args);
        c.calls++;
        if (inv) {
          if (inv.crashed) return never();
          inv.calls++;
          if (inv.callsLeft !== undefined && --inv.callsLeft <= 0) {
            inv.crashed = true;
            c.crashes++;
            inv.crash(new InjectedCrash(inv.calls));
            return never();
          }
        }
        if (rng.next() < plan.exhaustedFaultRate) {
          c.exhausted++;
          if (rng.next() < 0.5) throw throttle('after every SDK retry');
          await next(args);
          throw lostResponse('after every SDK retry');
        }
        try {
          return await next(args);
        } catch (err) {
          const table = (args.input as { TableName?: string }).TableName;
          if ((err as Error).name === 'ConditionalCheckFailedException' && table === conflictTable) c.conflicts++;
          throw err;
        }
      },
      { step: 'initialize', name: 'replayHarnessCallFaults', priority: 'high' },
    );
    client.middlewareStack.add(
      (next) => async (args) => {
        if (!this.armed) return next(args);
        c.attempts++;
        if (rng.next() < plan.attemptFaultRate) {
          if (rng.next() < 0.5) {
            c.throttled++;
            throw throttle('one attempt');
          }
          c.lostResponses++;
          await next(args);
          throw lostResponse('one attempt');
        }
        return next(args);
      },
      // After the retry middleware (finalizeRequest, high): every attempt passes here.
      { step: 'finalizeRequest', name: 'replayHarnessAttemptFaults', priority: 'low' },
    );
    // The retry middleware reads the strategy from the client config on every call.
    const config = client.config as unknown as { retryStrategy: () => Promise<unknown> };
    const strategy = shortRetryStrategy(plan.maxAttempts, plan.retryDelayMs, rng);
    config.retryStrategy = async () => strategy;
  }

  /**
   * Runs one handler invocation, which may crash according to the plan: at a uniformly chosen DynamoDB call among
   * the first `expectedCalls` (about one per record, so the crash lands anywhere in the batch).
   */
  invoke<T>(fn: () => Promise<T>, expectedCalls: number): Promise<T> {
    if (!this.armed) return fn();
    const n = ++this.counters.invocations;
    const crashes = this.plan.crashInvocations.includes(n) || this.rng.next() < this.plan.crashRate;
    let crash!: (err: Error) => void;
    const crashed = new Promise<never>((_, reject) => {
      crash = reject;
    });
    const inv: Invocation = {
      callsLeft: crashes ? 1 + this.rng.int(Math.max(1, expectedCalls)) : undefined,
      crashed: false,
      calls: 0,
      crash,
    };
    return Promise.race([this.invocation.run(inv, fn), crashed]);
  }
}

function throttle(where: string): Error {
  return new ProvisionedThroughputExceededException({
    message: `Rate of requests exceeds the allowed throughput (injected, ${where})`,
    $metadata: { httpStatusCode: 400 },
  });
}

function lostResponse(where: string): Error {
  // Classified by the SDK as a transient network error (retryable), as a real connection reset is.
  return Object.assign(new Error(`socket hang up (injected: write applied, response lost, ${where})`), {
    name: 'TimeoutError',
    code: 'ECONNRESET',
    $metadata: {},
  });
}

/**
 * The SDK's retry contract (RetryStrategyV2) with the SDK's own error classification (the middleware passes
 * `errorType`), `maxAttempts` attempts and a short jittered delay. Client errors (e.g. a failed condition) are never
 * retried, as in the standard strategy.
 */
function shortRetryStrategy(maxAttempts: number, delayMs: number, rng: Rng) {
  const token = (count: number, delay: number) => ({ getRetryCount: () => count, getRetryDelay: () => delay });
  return {
    mode: 'standard',
    acquireInitialRetryToken: async () => token(0, 0),
    refreshRetryTokenForRetry: async (t: { getRetryCount(): number }, info: { errorType: string }) => {
      const count = t.getRetryCount() + 1;
      if (count >= maxAttempts || info.errorType === 'CLIENT_ERROR') throw new Error('no retry left');
      return token(count, rng.next() * delayMs);
    },
    recordSuccess: () => {},
  };
}
