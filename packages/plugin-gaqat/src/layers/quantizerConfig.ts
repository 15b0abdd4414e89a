import * as tf from '@tensorflow/tfjs-core';
import { initializers } from '@tensorflow/tfjs-layers';

import { ErrorCode, GradhooksError } from '@gradhooks/core';

import { integerRange, lsqGradientScale, MAX_BITS, MIN_BITS } from '../math/lsq.js';
import type { IntegerRange } from '../math/lsq.js';

/** LSQ quantizer of a layer's kernel. */
export interface WeightQuantizerConfig {
  /** Bit width, 2 to 8. */
  bits: number;
  /** Signed range [-2^(b-1), 2^(b-1)-1] (default) or unsigned [0, 2^b-1]. */
  signed?: boolean;
  /** One step size per output channel (the kernel's last axis) instead of one per tensor (default false). */
  perChannel?: boolean;
}

/** LSQ quantizer of a layer's input activations: one step size per tensor. */
export interface InputQuantizerConfig {
  /** Bit width, 2 to 8. */
  bits: number;
  /** Signed range (default); unsigned suits inputs that are never negative, such as ReLU outputs. */
  signed?: boolean;
}

/** A weight quantizer with every field set. */
export type ResolvedWeightQuantizer = Required<WeightQuantizerConfig>;
/** An input quantizer with every field set. */
export type ResolvedInputQuantizer = Required<InputQuantizerConfig>;

/** Throws ERR_OPTIONS_INVALID for a quantized layer's configuration. */
export function invalidLayerConfig(layer: string, path: string, received: unknown, expected: string, fix: string): never {
  throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `Invalid configuration of quantized layer '${layer}' at ${path}: expected ${expected}.`, {
    path,
    received,
    expected,
    fix,
  });
}

function checkBits(layer: string, path: string, bits: unknown): number {
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) {
    invalidLayerConfig(layer, `${path}/bits`, bits, `an integer from ${MIN_BITS} to ${MAX_BITS}`, `Set bits to a width from ${MIN_BITS} to ${MAX_BITS}.`);
  }
  return bits as number;
}

function checkFlag(layer: string, path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) {
    return fallback;
  }
  if (typeof value !== 'boolean') {
    invalidLayerConfig(layer, path, value, 'true or false', `Set ${path} to a boolean.`);
  }
  return value as boolean;
}

/** Validates a weight quantizer and fills in its defaults. */
export function resolveWeightQuantizer(layer: string, config: WeightQuantizerConfig | undefined): ResolvedWeightQuantizer {
  if (config === undefined || config === null || typeof config !== 'object') {
    return invalidLayerConfig(layer, '/weightQuantizer', config, 'an object such as { bits: 4 }', 'Pass weightQuantizer: { bits, signed?, perChannel? }.');
  }
  return {
    bits: checkBits(layer, '/weightQuantizer', config.bits),
    signed: checkFlag(layer, '/weightQuantizer/signed', config.signed, true),
    perChannel: checkFlag(layer, '/weightQuantizer/perChannel', config.perChannel, false),
  };
}

/** Validates an input quantizer (null or undefined: inputs are not quantized) and fills in its defaults. */
export function resolveInputQuantizer(layer: string, config: InputQuantizerConfig | null | undefined): ResolvedInputQuantizer | null {
  if (config === undefined || config === null) {
    return null;
  }
  if (typeof config !== 'object') {
    return invalidLayerConfig(layer, '/inputQuantizer', config, 'an object such as { bits: 4 }, or null', 'Pass inputQuantizer: { bits, signed? }, or null.');
  }
  return {
    bits: checkBits(layer, '/inputQuantizer', config.bits),
    signed: checkFlag(layer, '/inputQuantizer/signed', config.signed, true),
  };
}

/** Integer range and gradient scale of one quantizer application. */
export function quantizerSettings(bits: number, signed: boolean, elementsPerScale: number): { range: IntegerRange; gradientScale: number } {
  const range = integerRange(bits, signed);
  return { range, gradientScale: lsqGradientScale(elementsPerScale, range.positive) };
}

/** A tfjs-layers initializer; the class itself is not exported by the package. */
export type Initializer = ReturnType<typeof initializers.ones>;

/** An initializer as layer configurations give it: an identifier ('glorotUniform'), an instance, or its serialized form. */
export type InitializerSpec = string | Initializer | { className: string; config: tf.serialization.ConfigDict };

/** Turns an identifier, instance or serialized initializer into an instance, using tfjs's class registry. */
export function resolveInitializer(layer: string, path: string, spec: InitializerSpec | null | undefined, fallback: string): Initializer {
  const value = spec ?? fallback;
  if (typeof value === 'object' && typeof (value as Initializer).apply === 'function') {
    return value as Initializer;
  }
  const className = typeof value === 'string' ? value.charAt(0).toUpperCase() + value.slice(1) : (value as { className?: unknown }).className;
  const config = typeof value === 'string' ? {} : ((value as { config?: tf.serialization.ConfigDict }).config ?? {});
  const entry = typeof className === 'string' ? tf.serialization.SerializationMap.getMap().classNameMap[className] : undefined;
  if (entry === undefined) {
    return invalidLayerConfig(layer, path, value, 'a tfjs initializer identifier, instance or { className, config }', "Use an initializer such as 'glorotUniform' or 'zeros'.");
  }
  const [cls, fromConfig] = entry;
  return fromConfig(cls, config) as Initializer;
}

/** Serializes an initializer the way tfjs layers write theirs into model configurations. */
export function serializeInitializer(initializer: Initializer): tf.serialization.ConfigDict {
  return { className: initializer.getClassName(), config: initializer.getConfig() };
}
