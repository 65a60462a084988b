/**
 * Identifiers derived from content, never from a clock or a random source,
 * so two builds of the same inputs give the same SBOM bytes: the SPDX
 * document namespace and the CycloneDX serial number are UUIDs made from a
 * SHA-256 of the document (RFC 9562 version 8, "custom", as its appendix
 * example does with SHA-256), and SPDX element ids come from names.
 */
import { createHash } from 'node:crypto';

/** A version-8 UUID from the SHA-256 of `data`. */
export function contentUuid(data: string | Uint8Array): string {
  const b = createHash('sha256').update(data).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80; // version 8
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * An SPDX element id: "SPDXRef-" + letters, digits, "." and "-". A name
 * using other characters ("libstdc++6") gets them replaced and a short hash
 * of the real name appended, so two names can never collide.
 */
export function spdxId(prefix: string, name: string): string {
  if (/^[A-Za-z0-9.-]+$/.test(name)) return `SPDXRef-${prefix}-${name}`;
  const clean = name.replace(/[^A-Za-z0-9.-]+/g, '-');
  return `SPDXRef-${prefix}-${clean}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}
