export { assertAllClose, assertFinite, FLOAT32_TOLERANCE, isClose } from './asserts.js';
export type { Tolerance } from './asserts.js';
export { assertNoLeak, assertSteadyTensorCount, tensorCountsPerStep } from './memory.js';
export { flatten, fromSpec, shapeOf } from './values.js';
export type { NestedNumbers, SpecNumber } from './values.js';
