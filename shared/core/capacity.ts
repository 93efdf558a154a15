/**
 * The capacity plan (`npm run capacity`, docs/ARCHITECTURE.md §6): for a load (decisions and feedback events per
 * second, actions K, decision points, objectives), the design's parameters (stream shards, writer partitions P,
 * snapshot replicas R, cells), every resource's need against its AWS limit, what is closest to its limit, and the
 * monthly cost. Pure arithmetic over the sizes and CPU times measured in this repository (the constants below name
 * where each comes from) and AWS's published limits and us-east-1 prices (as of 2026; stated here so a reader can
 * update them).
 *
 * The design, as the load grows: shards by the stream's per-shard limits; P (statistics items per action) by the
 * per-item write rate; R by S3's per-prefix GET rate; and cells — whole stacks, users assigned to one by a hash of
 * their id (a user's decisions and events must meet in one stack's join) — when one stack's publish lease item (two
 * writes per shard-second) or a soft account quota would pass what one stack or account can have.
 */

/** AWS limits used (per region unless stated). Soft quotas can be raised on request; hard limits cannot. */
export const LIMITS = {
  /** Kinesis: per shard. */
  shardRecordsPerSecond: 1_000,
  shardBytesInPerSecond: 1_048_576,
  shardBytesOutPerSecond: 2_097_152,
  /** DynamoDB: one partition (an item, and the decision point's item collection the LSI pins to one partition). */
  partitionWcuPerSecond: 1_000,
  partitionRcuPerSecond: 3_000,
  /** S3: per key prefix. */
  prefixGetsPerSecond: 5_500,
  /** Soft quotas (account, region). */
  apiGatewayRequestsPerSecond: 10_000,
  lambdaConcurrency: 1_000,
  kinesisShards: 500,
  dynamoTableWcuPerSecond: 40_000,
  dynamoTableRcuPerSecond: 40_000,
} as const;

/** Prices used, us-east-1, USD. */
export const PRICES = {
  /** API Gateway REST per million requests: first 333 M, next 667 M, next 19 B, beyond (per month). */
  apiGatewayTiers: [
    [333e6, 3.5],
    [667e6, 2.8],
    [19e9, 2.38],
    [Number.POSITIVE_INFINITY, 1.51],
  ] as const,
  lambdaPerMillionRequests: 0.2,
  /** Arm64, per GB-second. */
  lambdaPerGbSecond: 0.0000133334,
  kinesisShardHour: 0.015,
  /** Per million PUT payload units (25 KB each). */
  kinesisPerMillionPutUnits: 0.014,
  dynamoPerMillionWrites: 0.625,
  dynamoPerMillionReads: 0.125,
  s3PerThousandGets: 0.0004,
  s3PerThousandPuts: 0.005,
  /** Firehose ingestion and dynamic partitioning, per GB. */
  firehosePerGb: 0.029 + 0.02,
  /** Step Functions: Standard state transitions; Express requests (the Distributed Map's children). */
  sfnPerThousandTransitions: 0.025,
  sfnExpressPerMillionRequests: 1,
  s3PerGbMonth: 0.023,
} as const;

/**
 * The plan's inputs. Measured in this repository: the handler's CPU (BENCHMARKS.md). From the sizing arithmetic of
 * docs/ARCHITECTURE.md §6 (not measured): record and item sizes, the join's capacity units. Assumed: the PutRecords
 * round trip and the updater's duration per invocation.
 */
export const MEASURED = {
  /** The decisions handler's CPU per decision at K = 10, 100, 1,000 ("One decision in the decisions Lambda"). */
  handlerCpuUs: [
    [10, 1_015],
    [100, 688],
    [1_000, 2_825],
  ] as const,
  /** Assumed, not measurable here: one PutRecords round trip inside a region. */
  streamPutMs: 8,
  /**
   * A decision record's bytes, whatever K: it names the live catalog by its version (core/catalog/catalog-version.ts;
   * 610 B measured with a 12-feature context at d = 16, rounded up for larger contexts). Not modelled: 12 B per id
   * an eligibility rule leaves out, and the one record per container and catalog change that declares the version.
   */
  decisionRecordBytes: 1_000,
  /** A feedback event record. */
  eventRecordBytes: 350,
  /** A statistics item at d = 16 with its high-water marks (ARCHITECTURE §6). */
  statsItemBytes: 3_400,
  /** Decision item, user item and event claim writes of the join, in WCU per decision and per event. */
  joinWcuPerDecision: 4,
  joinRcuPerDecision: 2,
  joinWcuPerEvent: 2,
  joinRcuPerEvent: 2,
  decisionsMemoryMb: 1024,
  /**
   * Measured at K = 100 ("Decisions in bulk" in BENCHMARKS.md): CPU per decision through `POST /v1/decisions:batch`
   * with 100 requests per call, and in a decision job's worker (a chunk of 10,000 lines, everything it writes
   * included); bytes of the chunk's gzipped lake object per decision.
   */
  batchItemCpuUs: 230,
  jobWorkerCpuUs: 89,
  jobLakeBytesPerDecision: 47,
  /** Assumed, not measurable here: a chunk's wait on S3 and DynamoDB in AWS (Lambda bills the wall time). */
  jobChunkIoMs: 1_000,
  /** The decision jobs function's memory (one vCPU). */
  jobMemoryMb: 1769,
} as const;

export interface CapacityInput {
  decisionsPerSecond: number;
  eventsPerSecond: number;
  actions: number;
  decisionPoints: number;
  objectives: number;
  /** How often containers poll snapshots (MODEL_REFRESH_MS). */
  refreshMs: number;
}

export interface ResourceNeed {
  resource: string;
  need: number;
  limit: number;
  unit: string;
  /** need / limit. */
  utilisation: number;
  kind: 'hard' | 'soft quota';
  /** For a soft quota the need passes (with 20% headroom): the quota to request for each cell's account region. */
  request?: number;
}

export interface CapacityPlan {
  input: CapacityInput;
  design: {
    cells: number;
    shardsPerCell: number;
    statsPartitions: number;
    snapshotReplicas: number;
    /** PUBLISH_MIN_INTERVAL_MS of the updater. */
    publishIntervalMs: number;
    decisionsContainers: number;
  };
  /** Per cell (each cell is one stack in its own account or region when soft quotas require). */
  resources: ResourceNeed[];
  /** The hard limit closest to its limit: what breaks first as the load grows within this design. */
  tightest: ResourceNeed;
  monthlyCost: Record<string, number> & { total: number };
  costPerMillionDecisions: number;
  /** What a million more decisions cost by each path (costPerMillionByPath). */
  paths: PathCost[];
}

const SECONDS_PER_MONTH = 730 * 3600;

/** Linear interpolation in log K of the measured handler CPU. */
export function handlerCpuUs(actions: number): number {
  const pts = MEASURED.handlerCpuUs;
  if (actions <= pts[0][0]) return pts[0][1];
  for (let i = 1; i < pts.length; i++) {
    const [k1, c1] = pts[i - 1]!;
    const [k2, c2] = pts[i]!;
    if (actions <= k2) return c1 + ((c2 - c1) * (Math.log(actions) - Math.log(k1))) / (Math.log(k2) - Math.log(k1));
  }
  const [kl, cl] = pts[pts.length - 1]!;
  return (cl * actions) / kl;
}

function apiGatewayMonthly(requests: number): number {
  let left = requests;
  let cost = 0;
  for (const [size, price] of PRICES.apiGatewayTiers) {
    const take = Math.min(left, size);
    cost += (take / 1e6) * price;
    left -= take;
    if (left <= 0) break;
  }
  return cost;
}

export function planCapacity(input: CapacityInput): CapacityPlan {
  const { decisionsPerSecond: D, eventsPerSecond: E, actions: K, decisionPoints: DP, objectives: O } = input;
  const headroom = 0.8;
  // Decision records carry the context and a reference to the live catalog, not its ids.
  const decisionBytes = MEASURED.decisionRecordBytes;
  const bytesIn = D * decisionBytes + E * MEASURED.eventRecordBytes;
  const records = D + E;
  const shardsTotal = Math.max(
    1,
    Math.ceil(
      Math.max(
        records / LIMITS.shardRecordsPerSecond,
        bytesIn / LIMITS.shardBytesInPerSecond,
        // The updater and Firehose both read every byte.
        (2 * bytesIn) / LIMITS.shardBytesOutPerSecond,
      ) / headroom,
    ),
  );
  // The publish lease item takes two writes per shard-second per decision point (request + acquire): at most
  // 1,000 × 0.8 / 2 = 400 shards per stack (below the 500-shard soft quota of an account region).
  const maxShardsPerCell = Math.min(LIMITS.kinesisShards, Math.floor((LIMITS.partitionWcuPerSecond * headroom) / 2));
  const cells = Math.max(1, Math.ceil(shardsTotal / maxShardsPerCell));
  const shards = Math.ceil(shardsTotal / cells);
  const dPerCell = D / cells;
  const ePerCell = E / cells;
  // Writes per statistics item per second: one per batch-second per shard writing its partition.
  const statsWcuPerWrite = Math.ceil(MEASURED.statsItemBytes / 1024);
  let P = 1;
  while ((shards / P) * statsWcuPerWrite > LIMITS.partitionWcuPerSecond * headroom && P < 64) P *= 2;
  const itemWcu = Math.min(shards, shards / P) * statsWcuPerWrite;
  // Decisions containers (Lambda concurrency): one request at a time per container.
  const cpuMs = (handlerCpuUs(K) / 1000) * (1769 / MEASURED.decisionsMemoryMb);
  const decisionMs = cpuMs + MEASURED.streamPutMs;
  const containers = Math.ceil((dPerCell * decisionMs) / 1000);
  const pollsPerSecond = (containers * DP * 1000) / input.refreshMs;
  const R = Math.max(1, Math.ceil((2 * pollsPerSecond) / (LIMITS.prefixGetsPerSecond * headroom)));
  // The publisher: a strongly consistent read of the day's statistics of one decision point per publish, publishes
  // at least PUBLISH_MIN_INTERVAL_MS apart: the interval is raised until the reads fit the partition.
  const statsItemsPerDp = K * P * (O + 1);
  const rcuPerPublish = statsItemsPerDp * Math.ceil(MEASURED.statsItemBytes / 4096);
  // 250 ms by default (DEFAULT_PUBLISH_INTERVAL_MS), in steps of 250 ms.
  const publishIntervalMs =
    250 * Math.max(1, Math.ceil((4 * rcuPerPublish) / (LIMITS.partitionRcuPerSecond * headroom)));
  const publisherRcu = (rcuPerPublish * 1000) / publishIntervalMs;
  const updaterConcurrency = shards;
  // Events arrive in requests of about 10 (an assumption), each about as long as a decision.
  const eventRequests = ePerCell / 10;
  const eventsContainers = Math.max(1, Math.ceil((eventRequests * decisionMs) / 1000));
  // Statistics writes: each shard-second writes each statistics item its batch touched once.
  const recordsPerShard = (dPerCell + ePerCell) / shards;
  const statsWrites = shards * DP * Math.min(K * (O + 1), recordsPerShard);
  const tableWcu =
    dPerCell * MEASURED.joinWcuPerDecision + ePerCell * MEASURED.joinWcuPerEvent + statsWrites * statsWcuPerWrite;
  const tableRcu = dPerCell * MEASURED.joinRcuPerDecision + ePerCell * MEASURED.joinRcuPerEvent;
  const need = (
    resource: string,
    n: number,
    limit: number,
    unit: string,
    kind: ResourceNeed['kind'],
  ): ResourceNeed => ({
    resource,
    need: n,
    limit,
    unit,
    utilisation: n / limit,
    kind,
    ...(kind === 'soft quota' && n > limit * headroom && { request: Math.ceil(n / headroom) }),
  });
  const resources: ResourceNeed[] = [
    need('API Gateway requests', dPerCell + eventRequests, LIMITS.apiGatewayRequestsPerSecond, 'req/s', 'soft quota'),
    need(
      'Lambda concurrency (decisions + events + updater)',
      containers + eventsContainers + updaterConcurrency,
      LIMITS.lambdaConcurrency,
      'containers',
      'soft quota',
    ),
    need('Kinesis shards', shards, LIMITS.kinesisShards, 'shards', 'soft quota'),
    need(
      'Kinesis records per shard',
      (dPerCell + ePerCell) / shards,
      LIMITS.shardRecordsPerSecond,
      'records/s',
      'hard',
    ),
    need(
      'Kinesis bytes in per shard',
      (dPerCell * decisionBytes + ePerCell * MEASURED.eventRecordBytes) / shards,
      LIMITS.shardBytesInPerSecond,
      'B/s',
      'hard',
    ),
    need('DynamoDB statistics item writes', itemWcu, LIMITS.partitionWcuPerSecond, 'WCU/s', 'hard'),
    need('DynamoDB publish lease item writes', 2 * shards, LIMITS.partitionWcuPerSecond, 'WCU/s', 'hard'),
    need('DynamoDB publisher reads (one decision point)', publisherRcu, LIMITS.partitionRcuPerSecond, 'RCU/s', 'hard'),
    need('DynamoDB table writes', tableWcu, LIMITS.dynamoTableWcuPerSecond, 'WCU/s', 'soft quota'),
    need('DynamoDB table reads', tableRcu + DP * publisherRcu, LIMITS.dynamoTableRcuPerSecond, 'RCU/s', 'soft quota'),
    need('S3 snapshot GETs per prefix', (2 * pollsPerSecond) / R, LIMITS.prefixGetsPerSecond, 'GET/s', 'hard'),
  ];
  // The hard limits are the design's; soft quotas are raised by request (`request`).
  const tightest = resources.filter((r) => r.kind === 'hard').reduce((a, b) => (b.utilisation > a.utilisation ? b : a));
  // Monthly cost of all cells.
  const month = SECONDS_PER_MONTH;
  const gbSeconds = (D * month * decisionMs * MEASURED.decisionsMemoryMb) / 1024 / 1000;
  const cost = {
    apiGateway: apiGatewayMonthly((D + E / 10) * month),
    lambdaEvents:
      (E / 10) * month * (PRICES.lambdaPerMillionRequests / 1e6) +
      (((E / 10) * month * decisionMs) / 1000 / 2) * PRICES.lambdaPerGbSecond,
    lambdaDecisions: ((D * month) / 1e6) * PRICES.lambdaPerMillionRequests + gbSeconds * PRICES.lambdaPerGbSecond,
    // Updater: one invocation per shard-second, assumed ≈ 200 ms at 1 GB (not measured in AWS).
    lambdaUpdater: shards * cells * month * (PRICES.lambdaPerMillionRequests / 1e6 + 0.2 * PRICES.lambdaPerGbSecond),
    kinesis:
      shards * cells * 730 * PRICES.kinesisShardHour +
      (((D * Math.ceil(decisionBytes / 25_600) + E) * month) / 1e6) * PRICES.kinesisPerMillionPutUnits,
    dynamodb:
      ((tableWcu * cells * month) / 1e6) * PRICES.dynamoPerMillionWrites +
      (((tableRcu + DP * publisherRcu) * cells * month) / 1e6) * PRICES.dynamoPerMillionReads,
    s3Snapshots:
      ((2 * pollsPerSecond * cells * month) / 1000) * PRICES.s3PerThousandGets +
      (((2 * R * DP * cells * month) / 1000) * PRICES.s3PerThousandPuts * 1000) / publishIntervalMs,
    firehose: ((bytesIn * month) / 1e9) * PRICES.firehosePerGb,
  };
  const total = Object.values(cost).reduce((a, b) => a + b, 0);
  return {
    input,
    design: {
      cells,
      shardsPerCell: shards,
      statsPartitions: P,
      snapshotReplicas: R,
      publishIntervalMs,
      decisionsContainers: containers,
    },
    resources,
    tightest,
    monthlyCost: { ...cost, total },
    costPerMillionDecisions: total / ((D * month) / 1e6),
    paths: costPerMillionByPath(K, input.objectives),
  };
}

/** A chunk's decision records stay within this many bytes (its lake object is built in memory, as one string). */
export const JOB_CHUNK_RECORD_BYTES = 64e6;

/**
 * Lines per chunk of a decision job at K live actions: at least 100 decisions per statistics item a chunk writes (and
 * at least 10,000 lines), but never more decision records than JOB_CHUNK_RECORD_BYTES hold: at K = 1,000, 100,000
 * records of ≈ 1 KB would not fit the worker's memory beside everything else.
 */
export function jobChunkLines(actions: number): number {
  const recordBytes = MEASURED.decisionRecordBytes;
  return Math.min(Math.max(10_000, 100 * actions), Math.floor(JOB_CHUNK_RECORD_BYTES / recordBytes));
}

/** One way of making decisions, what a million of them cost at the margin, by part (USD). */
export interface PathCost {
  path: 'one request per decision' | 'POST /v1/decisions:batch of 100' | 'decision job';
  perMillion: number;
  parts: Record<string, number>;
}

/**
 * The marginal cost of a million decisions at K actions by each path (issue 18, item 5): what grows with the number
 * of decisions, from the measured CPU times and sizes and the prices above; shard hours, the snapshot fan-out and
 * feedback (per event, not per decision) are the same whichever path decided and are left out. The CPU times were
 * measured at K = 100 (the per-request handler's is interpolated in K).
 */
export function costPerMillionByPath(actions: number, objectives = 0): PathCost[] {
  const M = 1e6;
  const decisionBytes = MEASURED.decisionRecordBytes;
  const gbSeconds = (cpuUs: number, memoryMb: number, waitMs = 0) =>
    (((cpuUs / 1000) * (1769 / memoryMb) + waitMs) / 1000) * (memoryMb / 1024);
  // Everything a logged decision costs downstream of the API: the stream, the lake's delivery, the join's writes.
  const logged = {
    kinesis: Math.ceil(decisionBytes / 25_600) * PRICES.kinesisPerMillionPutUnits,
    firehose: ((decisionBytes * M) / 1e9) * PRICES.firehosePerGb,
    dynamodbJoin:
      MEASURED.joinWcuPerDecision * PRICES.dynamoPerMillionWrites +
      MEASURED.joinRcuPerDecision * PRICES.dynamoPerMillionReads,
  };
  const memory = MEASURED.decisionsMemoryMb;
  const single: Record<string, number> = {
    apiGateway: PRICES.apiGatewayTiers[0][1],
    lambdaRequests: PRICES.lambdaPerMillionRequests,
    lambdaCompute: M * gbSeconds(handlerCpuUs(actions), memory, MEASURED.streamPutMs) * PRICES.lambdaPerGbSecond,
    ...logged,
  };
  const batch: Record<string, number> = {
    apiGateway: PRICES.apiGatewayTiers[0][1] / 100,
    lambdaRequests: PRICES.lambdaPerMillionRequests / 100,
    lambdaCompute:
      M * gbSeconds(MEASURED.batchItemCpuUs, memory, MEASURED.streamPutMs / 100) * PRICES.lambdaPerGbSecond,
    ...logged,
  };
  const chunkLines = jobChunkLines(actions);
  const chunks = M / chunkLines;
  // Statistics items one chunk writes (each a strongly consistent read and a conditional put of the item).
  const itemsPerChunk = actions * (objectives + 1) + objectives;
  const job: Record<string, number> = {
    lambdaCompute:
      M *
      gbSeconds(MEASURED.jobWorkerCpuUs, MEASURED.jobMemoryMb, MEASURED.jobChunkIoMs / chunkLines) *
      PRICES.lambdaPerGbSecond,
    lambdaRequests: (chunks / M) * PRICES.lambdaPerMillionRequests,
    stepFunctions:
      (chunks / M) * PRICES.sfnExpressPerMillionRequests + ((chunks * 3) / 1000) * PRICES.sfnPerThousandTransitions,
    // Per chunk: one ranged GET of the input; PUTs of the lake object, the output and the errors.
    s3Requests: (chunks / 1000) * (PRICES.s3PerThousandGets + 3 * PRICES.s3PerThousandPuts),
    dynamodbStatistics:
      ((chunks * itemsPerChunk) / M) *
      (Math.ceil(MEASURED.statsItemBytes / 1024) * PRICES.dynamoPerMillionWrites +
        Math.ceil(MEASURED.statsItemBytes / 4096) * PRICES.dynamoPerMillionReads),
    // One month of the decisions' lake objects (the lake keeps them `lakeRetentionDays`).
    s3StorageMonth: ((MEASURED.jobLakeBytesPerDecision * M) / 1e9) * PRICES.s3PerGbMonth,
  };
  const total = (parts: Record<string, number>) => Object.values(parts).reduce((a, b) => a + b, 0);
  return [
    { path: 'one request per decision', perMillion: total(single), parts: single },
    { path: 'POST /v1/decisions:batch of 100', perMillion: total(batch), parts: batch },
    { path: 'decision job', perMillion: total(job), parts: job },
  ];
}
