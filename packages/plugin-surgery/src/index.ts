export { aggregatorInstance, PARAMETER_SCOPE } from './aggregator.js';
export type { AggregatorGlue, WeightingInput, WeightingResult } from './aggregator.js';
export { alignedMtl } from './alignedMtl.js';
export type { AlignedMtlOptions, ResolvedAlignedMtlOptions } from './alignedMtl.js';
export { cagrad } from './cagrad.js';
export type { CagradOptions, ResolvedCagradOptions } from './cagrad.js';
export { conflictFree } from './conflictFree.js';
export type { ConflictFreeOptions, ResolvedConflictFreeOptions } from './conflictFree.js';
export { constant } from './constant.js';
export type { ConstantOptions, ResolvedConstantOptions } from './constant.js';
export { coordinateAggregatorInstance } from './coordinateAggregator.js';
export type { CombineInput, CoordinateGlue } from './coordinateAggregator.js';
export { graddrop } from './graddrop.js';
export type { GraddropOptions, ResolvedGraddropOptions } from './graddrop.js';
export { gradvac } from './gradvac.js';
export type { GradvacOptions, GradvacState, ResolvedGradvacOptions } from './gradvac.js';
export { imtlG } from './imtlG.js';
export { krum } from './krum.js';
export type { KrumOptions, ResolvedKrumOptions } from './krum.js';
export { alignedMtlWeights } from './math/alignedMtl.js';
export type { AlignedScaleMode } from './math/alignedMtl.js';
export { cagradWeights } from './math/conflictAverse.js';
export type { CagradRescale, CagradResult } from './math/conflictAverse.js';
export { conflictFreeWeights } from './math/conflictFree.js';
export type { ConflictFreeLength } from './math/conflictFree.js';
export { dualProjWeights, normalizeByTrace, projectOntoDualCone, upgradWeights } from './math/dualCone.js';
export type { DualConeOptions as DualConeRegularization } from './math/dualCone.js';
export { imtlgWeights } from './math/equalProjection.js';
export { cosinesOf, countConflicts, gramianOf, stackAligned } from './math/gramian.js';
export type { Gramian } from './math/gramian.js';
export { krumWeights } from './math/krum.js';
export { exactMinNorm, frankWolfe, mgdaWeights, minNormOfTwo } from './math/minNorm.js';
export type { MinNormSolver } from './math/minNorm.js';
export { nashWeights } from './math/nashBargaining.js';
export { projectConflicting } from './math/projectConflicting.js';
export type { PcgradWeights, Projection } from './math/projectConflicting.js';
export { solveQuadraticProgram } from './math/quadraticProgram.js';
export type { QuadraticProgram } from './math/quadraticProgram.js';
export { dropBySign, trimmedMean as trimmedMeanOf } from './math/signDrop.js';
export { vaccinate } from './math/vaccinate.js';
export type { GradvacResult } from './math/vaccinate.js';
export { mgda } from './mgda.js';
export type { MgdaOptions, ResolvedMgdaOptions } from './mgda.js';
export { nashMtl } from './nashMtl.js';
export type { NashMtlOptions, NashMtlState, ResolvedNashMtlOptions } from './nashMtl.js';
export { pcgrad } from './pcgrad.js';
export type { PcgradOptions, ResolvedPcgradOptions } from './pcgrad.js';
export { random } from './random.js';
export { mean, sum } from './sum.js';
export { trimmedMean } from './trimmedMean.js';
export type { ResolvedTrimmedMeanOptions, TrimmedMeanOptions } from './trimmedMean.js';
export { dualproj, upgrad } from './upgrad.js';
export type { DualConeOptions, ResolvedDualConeOptions } from './upgrad.js';

import { alignedMtl } from './alignedMtl.js';
import { cagrad } from './cagrad.js';
import { conflictFree } from './conflictFree.js';
import { constant } from './constant.js';
import { graddrop } from './graddrop.js';
import { gradvac } from './gradvac.js';
import { imtlG } from './imtlG.js';
import { krum } from './krum.js';
import { mgda } from './mgda.js';
import { nashMtl } from './nashMtl.js';
import { pcgrad } from './pcgrad.js';
import { random } from './random.js';
import { mean, sum } from './sum.js';
import { trimmedMean } from './trimmedMean.js';
import { dualproj, upgrad } from './upgrad.js';

/** Every plugin of this package, for the config loader's registry. */
export const surgeryPlugins = [
  sum,
  mean,
  constant,
  random,
  pcgrad,
  upgrad,
  dualproj,
  mgda,
  cagrad,
  imtlG,
  alignedMtl,
  conflictFree,
  gradvac,
  graddrop,
  nashMtl,
  krum,
  trimmedMean,
] as const;
