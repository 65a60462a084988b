/**
 * Reader for System V / GNU `ar` archives, the outer container of a .deb.
 * Only the 60-byte member headers are read up front; member bodies are
 * streamed with positional reads so a large .deb is never held in memory.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { BaseimgError } from '../util/errors.js';

export interface ArMember {
  /** Member name with GNU's trailing '/' and padding removed ("data.tar.xz"). */
  name: string;
  /** Offset of the member's first data byte in the archive file. */
  offset: number;
  size: number;
}

const GLOBAL_HEADER = Buffer.from('!<arch>\n', 'latin1');
const HEADER_SIZE = 60;
const HEADER_END = Buffer.from('`\n', 'latin1');
const READ_CHUNK = 256 * 1024;

export class ArArchive {
  private constructor(
    private readonly handle: FileHandle,
    /** The archive's path, for error messages. */
    readonly file: string,
    readonly members: readonly ArMember[],
  ) {}

  /** Open `file` and read its member table; the caller must close() the archive. */
  static async open(file: string): Promise<ArArchive> {
    const handle = await open(file, 'r');
    try {
      const members = await readMemberTable(handle, file);
      return new ArArchive(handle, file, members);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** The member's bytes in chunks, read on demand. */
  async *stream(member: ArMember): AsyncGenerator<Buffer> {
    let pos = member.offset;
    const end = member.offset + member.size;
    while (pos < end) {
      const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, end - pos));
      const n = await readFully(this.handle, buf, pos);
      if (n !== buf.length) throw unpackError(this.file, `member ${member.name} is cut short`);
      pos += n;
      yield buf;
    }
  }

  /** The whole member in memory (for the small debian-binary member). */
  async read(member: ArMember): Promise<Buffer> {
    const buf = Buffer.alloc(member.size);
    const n = await readFully(this.handle, buf, member.offset);
    if (n !== buf.length) throw unpackError(this.file, `member ${member.name} is cut short`);
    return buf;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

async function readMemberTable(handle: FileHandle, file: string): Promise<ArMember[]> {
  const fileSize = (await handle.stat()).size;
  const magic = Buffer.alloc(GLOBAL_HEADER.length);
  if ((await readFully(handle, magic, 0)) !== magic.length || !magic.equals(GLOBAL_HEADER)) {
    throw unpackError(file, 'it is not an ar archive (bad magic)');
  }
  const members: ArMember[] = [];
  const header = Buffer.alloc(HEADER_SIZE);
  let pos = GLOBAL_HEADER.length;
  while (pos < fileSize) {
    const n = await readFully(handle, header, pos);
    if (n !== HEADER_SIZE) throw unpackError(file, `member header at offset ${pos} is cut short`);
    const member = parseHeader(header, pos, file);
    const end = member.offset + member.size;
    if (end > fileSize) {
      throw unpackError(file, `member ${member.name} claims ${member.size} bytes but the file ends ${fileSize - member.offset} bytes after its header`);
    }
    // Members start on even offsets: an odd-sized member is followed by one '\n'.
    pos = end;
    if (member.size % 2 === 1) {
      const pad = Buffer.alloc(1);
      if ((await readFully(handle, pad, end)) !== 1 || pad[0] !== 0x0a) {
        throw unpackError(file, `member ${member.name} is not followed by its padding byte`);
      }
      pos += 1;
    }
    members.push(member);
  }
  return members;
}

function parseHeader(header: Buffer, pos: number, file: string): ArMember {
  if (!header.subarray(58, 60).equals(HEADER_END)) {
    throw unpackError(file, `member header at offset ${pos} does not end with the ar terminator`);
  }
  // Names are space-padded; GNU ar also ends them with '/'.
  let name = header.toString('latin1', 0, 16).trimEnd();
  if (name.endsWith('/') && name !== '/' && name !== '//') name = name.slice(0, -1);
  if (name === '' || !/^[\x21-\x7e]+$/.test(name)) {
    throw unpackError(file, `member header at offset ${pos} has an invalid name ${JSON.stringify(name)}`);
  }
  const sizeField = header.toString('latin1', 48, 58).trimEnd();
  if (!/^[0-9]+$/.test(sizeField)) {
    throw unpackError(file, `member ${name} has an invalid size field ${JSON.stringify(sizeField)}`);
  }
  return { name, offset: pos + HEADER_SIZE, size: Number(sizeField) };
}

/** Read until `buf` is full or the file ends; returns the bytes read. */
async function readFully(handle: FileHandle, buf: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await handle.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

function unpackError(file: string, problem: string): BaseimgError {
  return new BaseimgError('UNPACK', `${file} is not a valid package archive: ${problem}`, {
    hint: 'the file is damaged or not a .deb; delete it from the cache and download it again',
  });
}
