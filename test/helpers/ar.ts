/**
 * Writer for System V / GNU `ar` archives, the outer container of a .deb.
 * Output is fully determined by the inputs (no clock, no environment).
 */

export interface ArMember {
  /** Member name; at most 16 bytes. dpkg-deb appends no '/' to names, and neither do we. */
  name: string;
  data: Buffer;
  /** Seconds since the epoch; defaults to 0. */
  mtime?: number;
  uid?: number;
  gid?: number;
  /** Numeric mode, written in octal; defaults to 0o100644. */
  mode?: number;
}

export const AR_GLOBAL_HEADER = '!<arch>\n';

/** Left-aligns `value` in a space-padded field of `width` bytes; throws if it does not fit. */
function field(value: string, width: number, what: string): string {
  if (Buffer.byteLength(value) > width) {
    throw new Error(`ar: ${what} "${value}" does not fit in ${width} bytes`);
  }
  return value + ' '.repeat(width - Buffer.byteLength(value));
}

/** The 60-byte member header: name(16) mtime(12) uid(6) gid(6) mode(8) size(10) "`\n". */
export function arMemberHeader(member: ArMember): Buffer {
  const header =
    field(member.name, 16, 'name') +
    field(String(member.mtime ?? 0), 12, 'mtime') +
    field(String(member.uid ?? 0), 6, 'uid') +
    field(String(member.gid ?? 0), 6, 'gid') +
    field((member.mode ?? 0o100644).toString(8), 8, 'mode') +
    field(String(member.data.length), 10, 'size') +
    '`\n';
  const bytes = Buffer.from(header, 'utf8');
  if (bytes.length !== 60) throw new Error(`ar: header for ${member.name} is ${bytes.length} bytes`);
  return bytes;
}

/** Builds an archive; each member's data is followed by '\n' when its size is odd (2-byte alignment). */
export function writeAr(members: ArMember[]): Buffer {
  const parts: Buffer[] = [Buffer.from(AR_GLOBAL_HEADER, 'ascii')];
  for (const member of members) {
    parts.push(arMemberHeader(member), member.data);
    if (member.data.length % 2 === 1) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}
