/**
 * A push, in the order registries require: every blob first (checked with
 * HEAD, mounted from another repository when one is known to hold it, else
 * uploaded), then the manifests of an index by digest, then the top manifest
 * or index under the tag. Blobs are shared: a layer listed by two platforms
 * is checked and sent once.
 */
import { mapLimit } from '../util/concurrency.js';
import type { BlobMemory } from './blob-memory.js';
import type { RegistryClient } from './client.js';
import type { PlanBlob, PlanNode, PushPlan } from './plan.js';
import type { BlobAction, PushProgress } from './progress.js';
import type { RegistryRef } from './reference.js';

export interface PushOptions {
  /** Repositories of the same registry to try a cross-repository mount from (before the remembered ones). */
  mountFrom: string[];
  memory: BlobMemory;
  progress: PushProgress;
  /** Blobs in flight at once (default 3). */
  concurrency?: number;
  signal?: AbortSignal | undefined;
}

export interface PushedBlob {
  digest: string;
  size: number;
  mediaType: string;
  action: BlobAction;
  /** The repository it was mounted from. */
  from?: string;
}

export interface PushResult {
  /** "registry/repository:tag" */
  reference: string;
  /** "registry/repository@sha256:…": what to pull to get exactly this image. */
  pinned: string;
  digest: string;
  mediaType: string;
  manifests: Array<{ digest: string; mediaType: string; platform?: string }>;
  blobs: PushedBlob[];
  /** Bytes uploaded (blobs neither present nor mounted). */
  uploadedBytes: number;
}

export async function pushPlan(client: RegistryClient, ref: RegistryRef, plan: PushPlan, options: PushOptions): Promise<PushResult> {
  const repo = ref.repository;
  const blobs = uniqueBlobs(plan.top);
  const pushed = await mapLimit(blobs, options.concurrency ?? 3, async (blob): Promise<PushedBlob> => {
    options.signal?.throwIfAborted();
    const progress = options.progress.blob(blob.digest, blob.size, blob.role.split(' ')[0]!);
    const settled = await pushBlob(client, repo, blob, options, (sent) => progress.update(sent));
    progress.done(settled.action, settled.from);
    options.memory.remember(blob.digest, repo);
    return { digest: blob.digest, size: blob.size, mediaType: blob.mediaType, ...settled };
  });
  await options.memory.save().catch(() => undefined);

  const manifests: PushResult['manifests'] = [];
  const putChildren = async (node: PlanNode): Promise<void> => {
    for (const child of node.children) {
      await putChildren(child);
      await client.putManifest(repo, child.digest, child.bytes, child.mediaType);
      manifests.push({ digest: child.digest, mediaType: child.mediaType, ...(child.platform ? { platform: platformText(child.platform) } : {}) });
    }
  };
  await putChildren(plan.top);
  await client.putManifest(repo, ref.tag, plan.top.bytes, plan.top.mediaType);
  manifests.push({ digest: plan.top.digest, mediaType: plan.top.mediaType, ...(plan.top.platform ? { platform: platformText(plan.top.platform) } : {}) });

  return {
    reference: ref.fullName,
    pinned: `${ref.registry}/${repo}@${plan.top.digest}`,
    digest: plan.top.digest,
    mediaType: plan.top.mediaType,
    manifests,
    blobs: pushed,
    uploadedBytes: pushed.filter((b) => b.action === 'uploaded').reduce((n, b) => n + b.size, 0),
  };
}

async function pushBlob(client: RegistryClient, repo: string, blob: PlanBlob, options: PushOptions, onProgress: (sent: number) => void): Promise<{ action: BlobAction; from?: string }> {
  if (await client.blobExists(repo, blob.digest)) return { action: 'exists' };
  const from = [...options.mountFrom, ...options.memory.sources(blob.digest, repo)].find((r) => r !== repo);
  let session;
  if (from !== undefined) {
    session = await client.startUpload(repo, blob.digest, from);
    if (session.mounted) return { action: 'mounted', from };
  }
  await client.upload(repo, blob, session, onProgress);
  return { action: 'uploaded' };
}

/** Every blob of every manifest under `top`, each digest once, in first-seen order. */
export function uniqueBlobs(top: PlanNode): PlanBlob[] {
  const seen = new Map<string, PlanBlob>();
  const visit = (node: PlanNode): void => {
    for (const b of node.blobs) if (!seen.has(b.digest)) seen.set(b.digest, b);
    for (const c of node.children) visit(c);
  };
  visit(top);
  return [...seen.values()];
}

function platformText(p: { os: string; architecture: string; variant?: string }): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}
