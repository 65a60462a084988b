/**
 * The document's table of license texts that have no SPDX identifier
 * (SPDX hasExtractedLicensingInfos): LicenseRef-… id, a name, the text as
 * the package states it, and where it was read. One id per distinct text.
 */

export interface ExtractedLicense {
  id: string;
  name: string;
  text: string;
  /** Files the text was read from, sorted. */
  sources: string[];
}

export class ExtractedLicenses {
  private readonly byId = new Map<string, ExtractedLicense>();

  /**
   * Register `text` under `id` (or `id-2`, `id-3`… when `id` already holds a
   * different text) and return the id used.
   */
  add(id: string, name: string, text: string, source: string): string {
    for (let n = 1; ; n++) {
      const candidate = n === 1 ? id : `${id}-${n}`;
      const existing = this.byId.get(candidate);
      if (existing === undefined) {
        this.byId.set(candidate, { id: candidate, name, text, sources: [source] });
        return candidate;
      }
      if (existing.text === text) {
        if (!existing.sources.includes(source)) existing.sources = [...existing.sources, source].sort();
        return candidate;
      }
    }
  }

  /** Every entry, by id. */
  list(): ExtractedLicense[] {
    return [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Only the entries an expression set refers to (documents list no unused texts). */
  usedBy(expressions: readonly string[]): ExtractedLicense[] {
    const used = new Set(expressions.flatMap((e) => e.match(/LicenseRef-[A-Za-z0-9.-]+/g) ?? []));
    return this.list().filter((l) => used.has(l.id));
  }
}
