/** Public API of the hybrid linear Thompson-sampling bandit core (pure: no I/O, no AWS). */
export {
  BanditError,
  DimensionMismatchError,
  InvalidArgumentError,
  NotPositiveDefiniteError,
  StatsFormatError,
} from './errors.ts';
export {
  choleskyInPlace,
  choleskySolveInPlace,
  inverseFromCholesky,
  invertSpd,
  packedIndex,
  packedIndexSym,
  packedSize,
  packSymmetric,
  quadFormPacked,
  solveLowerInPlace,
  solveLowerTransposeInPlace,
  symMatVecPacked,
  symRank1Packed,
  unpackSymmetric,
} from './linalg.ts';
export { erf, erfc, erfcxNonNegative, logNormalCdf, normalCdf, normalHazard, normalPdf } from './normal.ts';
export type { Dims, HybridPosterior, PosteriorAction, PosteriorSummary, Priors, SharedSketch } from './posterior.ts';
export {
  buildPosterior,
  DEFAULT_PRIORS,
  MAX_SHARED_DIM,
  MIN_NOISE_VARIANCE,
  posteriorSummary,
  sharedSketch,
} from './posterior.ts';
export { scoreInto } from './score.ts';
export type { ActionStats } from './stats.ts';
export {
  addObservation,
  addReward,
  addWeightedObservation,
  cloneStats,
  decodeStats,
  emptyStats,
  encodedStatsLength,
  encodeStats,
  mergeStats,
  STATS_FORMAT_VERSION,
  scaleStats,
  statsEqual,
} from './stats.ts';
export type { ArgmaxOptions } from './thompson.ts';
export { argmaxProbabilities, lastPanelCount, selectThompson } from './thompson.ts';
