import { Writable } from 'node:stream';

import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { HookedOptimizer, Telemetry } from '@gradhooks/core';
import { clipGlobalNorm } from '@gradhooks/plugin-clip';

import { createProgressDisplay, formatHighlights } from '../src/progress.js';

/** Creates a stream that records what is written; `isTTY` makes it look like a terminal. */
function captureStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY, columns: 160, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return { stream, text: () => chunks.join('') };
}

// Strips the terminal's control sequences (cursor moves, line clears) from captured output.
const plain = (text: string) => text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');

function publishStep(telemetry: Telemetry, step: number, events: { conflicts?: number; clipped?: boolean; applied?: boolean }) {
  if (events.conflicts !== undefined) {
    telemetry.publish('conflict', { step, plugin: 'pcgrad', objectives: ['a', 'b'], gramian: [[1, 0], [0, 1]], cosines: [[1, 0], [0, 1]], conflicts: events.conflicts });
  }
  if (events.clipped !== undefined) {
    telemetry.publish('clip', { step, plugin: 'clip-global-norm', normBefore: 2, normAfter: 1, clipped: events.clipped, nonFiniteDetected: false });
  }
  telemetry.publish('step', { step, call: step + 1, applied: events.applied ?? true, objectives: ['a', 'b'], durationMs: 1, pluginMs: {} });
}

describe('formatHighlights', () => {
  it('joins what has data', () => {
    expect(
      formatHighlights({ conflicts: { reported: 4, conflicting: 1 }, clips: { reported: 8, clipped: 2 }, skipped: 3, frozen: { frozen: 2, tracked: 5 }, errors: 1 }),
    ).toBe('conflicts 25% · clipped 25% · skipped 3 · frozen 2/5 · errors 1');
    expect(formatHighlights({ conflicts: { reported: 0, conflicting: 0 }, clips: { reported: 0, clipped: 0 }, skipped: 0, frozen: undefined, errors: 0 })).toBe('');
  });
});

describe('createProgressDisplay', () => {
  it('draws epoch, step, loss and highlights in a terminal', async () => {
    const telemetry = new Telemetry();
    const output = captureStream(true);
    const progress = createProgressDisplay({ telemetry }, { epochs: 2, stepsPerEpoch: 2, label: 'demo', stream: output.stream });

    expect(progress.mode).toBe('bar');
    await progress.callbacks.onTrainBegin();
    await progress.callbacks.onEpochBegin(0);
    publishStep(telemetry, 0, { conflicts: 1, clipped: true });
    await progress.callbacks.onBatchEnd(0, { loss: 0.75 });
    publishStep(telemetry, 1, { conflicts: 0, clipped: false, applied: false });
    await progress.callbacks.onBatchEnd(1, { loss: 0.5 });
    await progress.callbacks.onEpochEnd(0, { loss: 0.625 });
    await progress.callbacks.onEpochBegin(1);
    publishStep(telemetry, 1, { conflicts: 1 });
    await progress.callbacks.onBatchEnd(0, { loss: 0.25 });
    telemetry.publish('freeze', { step: 1, plugin: 'gaqat', layer: 'dense/scale', disorder: 0.1, frozen: true });
    await progress.callbacks.onBatchEnd(1, { loss: 0.125 });
    await progress.callbacks.onTrainEnd();

    const text = plain(output.text());
    expect(text).toContain('demo |');
    expect(text).toContain('| epoch 2/2 | step 4/4 | loss 0.1250 | conflicts 100% · skipped 1 · frozen 1/1 |');
    expect(progress.highlights()).toEqual({ conflicts: { reported: 1, conflicting: 1 }, clips: { reported: 0, clipped: 0 }, skipped: 1, frozen: { frozen: 1, tracked: 1 }, errors: 0 });
    expect(telemetry.listenerCount('*')).toBe(0);
  });

  it('is off when output is not a terminal', async () => {
    const telemetry = new Telemetry();
    const output = captureStream(false);
    const progress = createProgressDisplay({ telemetry }, { epochs: 1, stepsPerEpoch: 1, stream: output.stream });

    await progress.callbacks.onTrainBegin();
    await progress.callbacks.onEpochBegin(0);
    await progress.callbacks.onBatchEnd(0, { loss: 1 });
    await progress.callbacks.onEpochEnd(0, { loss: 1 });
    await progress.callbacks.onTrainEnd();

    expect(progress.mode).toBe('off');
    expect(output.text()).toBe('');
  });

  it('writes epoch lines during model.fit when asked', async () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ inputShape: [3], units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [clipGlobalNorm({ maxNorm: 1e-3 })] });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const x = tf.tensor2d([[1, 2, 3], [0, 1, 0], [2, 0, 1], [1, 1, 1]]);
    const y = tf.tensor2d([[1], [0], [2], [1]]);
    const output = captureStream(false);
    const progress = createProgressDisplay(optimizer, { epochs: 3, stepsPerEpoch: 2, label: 'fit', stream: output.stream, whenNotTerminal: 'epoch-lines' });
    try {
      await model.fit(x, y, { epochs: 3, batchSize: 2, shuffle: false, verbose: 0, callbacks: progress.callbacks });
    } finally {
      progress.stop();
      optimizer.dispose();
      model.dispose();
      tf.dispose([x, y]);
    }

    const lines = output.text().trimEnd().split('\n');
    expect(progress.mode).toBe('epoch-lines');
    expect(lines).toHaveLength(3);
    lines.forEach((line, i) => expect(line).toMatch(new RegExp(`^fit epoch ${i + 1}/3  loss \\d+\\.\\d{4}  clipped 100%  elapsed \\d+\\.\\d s$`)));
  });
});
