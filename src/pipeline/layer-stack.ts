/**
 * A platform image as an ordered list of layers. A spec whose first include
 * is its layer parent (spec.layerParent) is laid out as the parent image's
 * layers plus one layer with what this spec changes:
 *
 *   chain   static ─► base-nossl ─► base ─► cc        (root ancestor first)
 *   trees   T0        T1            T2      T3         each built exactly as
 *                                                      that spec alone builds
 *   layers  T0        T1 − T0       T2 − T1  T3 − T2   (src/rootfs/diff.ts)
 *
 * Every tree is built by the same code with the spec's own settings and its
 * own SOURCE_DATE_EPOCH (unless --source-date-epoch/$SOURCE_DATE_EPOCH fixes
 * one for the whole build), so a parent's layers are byte for byte the
 * parent image's layers, and a host that pulls several images of a family
 * stores the common part once. A level that changes nothing but its
 * embedded SBOM (a nonroot variant: only [image] differs) adds no layer; its
 * image is the parent's layers with its own config.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { displayName } from './spec-chain.js';
import type { Spec } from '../spec/types.js';
import type { RootTree } from '../rootfs/tree.js';
import { diffTrees } from '../rootfs/diff.js';
import { writeLayer } from '../image/layer.js';
import { layerCacheFor } from './layer-cache.js';
import type { Layer } from '../image/types.js';
import { EMBEDDED_SBOM } from '../sbom/render.js';
import type { BuildContext } from './context.js';

/** What building one spec's tree leaves for the stack. */
export interface LevelTree {
  root: RootTree;
  sourceDateEpoch: number;
  /** Frees the tree's scratch files. */
  dispose(): Promise<void>;
}

/** One spec of the chain and the layer it added (none when it changed only its embedded SBOM). */
export interface StackStep {
  specName: string;
  sourceDateEpoch: number;
  layer: Layer | undefined;
}

export interface LayerStack<T extends LevelTree> {
  /** Root ancestor first; the last is the spec being built. */
  steps: StackStep[];
  /** The layers of the steps, bottom first. */
  layers: Layer[];
  /** The built spec's own tree (still open: the caller disposes it). */
  top: T;
  /** Removes the layer blobs; call once the image is written. */
  dispose(): Promise<void>;
}

const SBOM_PATHS = new Set<string>(Object.values(EMBEDDED_SBOM));

/** Builds the trees of `chain` (specChain: root ancestor first, the built spec last) and layers them. */
export async function buildLayerStack<T extends LevelTree>(chain: Spec[], buildTree: (level: Spec, isTop: boolean) => Promise<T>, ctx: BuildContext): Promise<LayerStack<T>> {
  const spec = chain[chain.length - 1]!;
  const dir = await mkdtemp(path.join(ctx.tmpDir, 'layers-'));
  const steps: StackStep[] = [];
  let below: T | undefined;
  // A level's layer is compressed while the next level's tree is built (they keep
  // different cores busy); it reads the level's bodies, so `below` is disposed
  // only after it is written.
  let pending: Promise<void> | undefined;
  const settle = async (): Promise<void> => {
    const p = pending;
    pending = undefined;
    await p;
  };
  try {
    for (const level of chain) {
      const isTop = level === spec;
      if (chain.length > 1) ctx.reporter.info(`level ${steps.length + 1} of ${chain.length}: ${level.name}${isTop ? '' : ` (${displayName(level.file)})`}`);
      const built = await buildTree(level, isTop);
      try {
        const step: StackStep = { specName: level.name, sourceDateEpoch: built.sourceDateEpoch, layer: undefined };
        let tree: RootTree | undefined = built.root;
        if (below !== undefined) {
          const started = performance.now();
          const diff = await diffTrees(below.root, built.root, { mtime: built.sourceDateEpoch, ignore: (p) => SBOM_PATHS.has(p) });
          ctx.reporter.timing('diff', performance.now() - started);
          await settle();
          await below.dispose();
          below = undefined;
          ctx.reporter.debug(`${level.name}: ${diff.added} entries added or changed, ${diff.removed} removed`);
          if (diff.changed) tree = diff.tree;
          else {
            ctx.reporter.info(`${level.name} changes no file of ${steps[steps.length - 1]!.specName}: no layer of its own`);
            tree = undefined;
          }
        }
        if (tree !== undefined) {
          const started = performance.now();
          const write = writeLayer(tree, { sourceDateEpoch: built.sourceDateEpoch, dir, signal: ctx.signal, cache: layerCacheFor(ctx), onTiming: (s, ms) => ctx.reporter.timing(s, ms) }).then((layer) => {
            step.layer = layer;
            ctx.reporter.timing('layer', performance.now() - started);
          });
          write.catch(() => undefined); // awaited by settle(); this only keeps it from counting as unhandled meanwhile
          pending = write;
        }
        steps.push(step);
        below = built;
      } catch (e) {
        await settle().catch(() => undefined);
        await built.dispose();
        throw e;
      }
    }
    await settle();
  } catch (e) {
    await settle().catch(() => undefined);
    await below?.dispose();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const layers = steps.flatMap((s) => (s.layer === undefined ? [] : [s.layer]));
  return { steps, layers, top: below!, dispose: () => rm(dir, { recursive: true, force: true }) };
}
