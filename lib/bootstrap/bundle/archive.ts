import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { ConfigError } from "../../errors";

/**
 * Pure renderer of a bootstrap bundle: a gzip-compressed POSIX ustar archive of node files, built
 * so that the same files always give the same bytes (and so the same SHA-256): entries sorted by
 * path, owner root:root (uid/gid 0), a fixed modification time, the mode taken from the file's
 * permissions, regular files only (no directory entries, so extracting into `/` never changes the
 * mode of an existing directory such as `/etc`).
 */

/** A file of the bundle (same shape as the user-data renderer's `BootFile`). */
export interface BundleFile {
  /** Absolute path on the node. */
  readonly path: string;
  /** Octal mode, e.g. `0644`. */
  readonly permissions: string;
  /** Text content (written as UTF-8). */
  readonly content: string;
}

/** A rendered bundle. */
export interface BundleArchive {
  /** The `.tar.gz` bytes. */
  readonly bytes: Uint8Array;
  /** SHA-256 of `bytes`, lower-case hex. */
  readonly sha256: string;
  /** The files, in archive order. */
  readonly files: readonly BundleFile[];
}

/** Modification time of every entry: 2000-01-01T00:00:00Z (a fixed time keeps the bytes stable). */
export const BUNDLE_MTIME_SECONDS = 946684800;

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width - 1 digits, then NUL (ustar numeric fields).
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function putString(header: Buffer, offset: number, width: number, text: string): void {
  // Written in place (no intermediate Buffer per field: a bundle has ~15 fields × dozens of files).
  if (Buffer.byteLength(text, "utf8") > width) throw new Error(`ustar field overflow: ${text}`);
  header.write(text, offset, width, "utf8");
}

/** Splits a relative path into ustar `prefix` (≤155 bytes) and `name` (≤100 bytes). */
function splitPath(rel: string, original: string): { prefix: string; name: string } {
  if (Buffer.byteLength(rel) <= 100) return { prefix: "", name: rel };
  for (let i = rel.length - 1; i > 0; i--) {
    if (rel[i] !== "/") continue;
    const prefix = rel.slice(0, i);
    const name = rel.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { prefix, name };
  }
  throw new ConfigError("bundle file path", original, "is too long for a ustar archive (at most 100 bytes of file name and 155 of directory)", "use a shorter path");
}

function header(rel: string, original: string, mode: number, size: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  const { prefix, name } = splitPath(rel, original);
  putString(h, 0, 100, name);
  putString(h, 100, 8, octal(mode, 8));
  putString(h, 108, 8, octal(0, 8));
  putString(h, 116, 8, octal(0, 8));
  putString(h, 124, 12, octal(size, 12));
  putString(h, 136, 12, octal(BUNDLE_MTIME_SECONDS, 12));
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  putString(h, 156, 1, "0");
  putString(h, 257, 6, "ustar\0");
  putString(h, 263, 2, "00");
  putString(h, 265, 32, "root");
  putString(h, 297, 32, "root");
  putString(h, 329, 8, octal(0, 8));
  putString(h, 337, 8, octal(0, 8));
  putString(h, 345, 155, prefix);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  putString(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** Parses `0644`-style permissions; a `ConfigError` for anything else. */
export function parsePermissions(path: string, permissions: string): number {
  if (!/^0?[0-7]{3}$/.test(permissions)) {
    throw new ConfigError(`bundle file ${path} permissions`, permissions, "is not an octal mode of 3 digits (setuid, setgid and sticky bits are not allowed)", 'use e.g. "0644" or "0755"');
  }
  return parseInt(permissions, 8);
}

/** Checks a node path: absolute, normalized, no `.`/`..` segments. */
function relativePath(path: string): string {
  if (!path.startsWith("/") || path.endsWith("/") || path.split("/").slice(1).some((seg) => seg === "" || seg === "." || seg === "..")) {
    throw new ConfigError("bundle file path", path, "is not a normalized absolute file path", 'use a path like "/etc/ha-control-plane/x.conf"');
  }
  return path.slice(1);
}

/**
 * The bundle of `files`: deterministic `.tar.gz` bytes and their SHA-256. Two files with one path
 * are a `ConfigError` (the node could not tell which one was meant).
 */
export function renderBundleArchive(files: readonly BundleFile[]): BundleArchive {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parts: Buffer[] = [];
  sorted.forEach((f, i) => {
    if (i > 0 && sorted[i - 1].path === f.path) {
      throw new ConfigError("bundle files", f.path, "is given twice", "give each node file one definition");
    }
    const rel = relativePath(f.path);
    const mode = parsePermissions(f.path, f.permissions);
    const body = Buffer.from(f.content, "utf8");
    parts.push(header(rel, f.path, mode, body.length), body);
    const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad, 0));
  });
  parts.push(Buffer.alloc(2 * BLOCK, 0));
  const bytes = gzipSync(Buffer.concat(parts), { level: 9 });
  // The gzip header's OS byte is where zlib records the build platform (3 on Unix, 10 on Windows):
  // fixed to Unix so a synth on another platform gives the same bytes. No checksum covers it.
  bytes[9] = 3;
  return { bytes, sha256: createHash("sha256").update(bytes).digest("hex"), files: sorted };
}
