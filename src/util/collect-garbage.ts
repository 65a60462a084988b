/**
 * A full garbage collection, now, when the runtime offers one (bin/baseimg
 * arranges that); a no-op otherwise (tests, library use).
 *
 * Used once, after resolving from package indexes: bookworm's index is
 * ~100 MB (the text and its table), all garbage once the resolution is made.
 * V8 collects lazily, and the stages that follow allocate little (they reuse
 * their buffers), so without this it stayed resident under the build's
 * memory peak, ~60–90 MB of it.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
