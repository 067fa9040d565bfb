/**
 * Node modules, imported lazily inside the loaders so that a browser bundle of the parsers
 * never evaluates them. Nothing in this folder imports a node: module at the top level.
 */

export interface NodeModules {
  fs: typeof import('node:fs/promises');
  fsSync: typeof import('node:fs');
  path: typeof import('node:path');
  os: typeof import('node:os');
  crypto: typeof import('node:crypto');
  zlib: typeof import('node:zlib');
}

let modules: Promise<NodeModules> | undefined;

export function nodeModules(): Promise<NodeModules> {
  modules ??= Promise.all([
    import('node:fs/promises'),
    import('node:fs'),
    import('node:path'),
    import('node:os'),
    import('node:crypto'),
    import('node:zlib'),
  ]).then(([fs, fsSync, path, os, crypto, zlib]) => ({ fs, fsSync, path, os, crypto, zlib }));
  return modules;
}

/** The environment variable naming the local data folder. */
export const DATA_DIR_ENV = 'FA_ROBUST_DATA_DIR';
/** The environment variable overriding the default cache folder. */
export const CACHE_DIR_ENV = 'FA_ROBUST_CACHE_DIR';

function env(name: string): string | undefined {
  const v = typeof process === 'undefined' ? undefined : process.env[name];
  return v == null || v === '' ? undefined : v;
}

/**
 * Where downloads go unless `cacheDir` says otherwise: $FA_ROBUST_CACHE_DIR, else the user's
 * cache folder + 'fa-robust/datasets' ($XDG_CACHE_HOME or ~/.cache on Linux,
 * ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows).
 */
export async function defaultCacheDir(): Promise<string> {
  const { path, os } = await nodeModules();
  const fromEnv = env(CACHE_DIR_ENV);
  if (fromEnv) return path.resolve(fromEnv);
  const home = os.homedir();
  let base: string;
  if (process.platform === 'win32')
    base = env('LOCALAPPDATA') ?? path.join(home, 'AppData', 'Local');
  else if (process.platform === 'darwin') base = path.join(home, 'Library', 'Caches');
  else base = env('XDG_CACHE_HOME') ?? path.join(home, '.cache');
  return path.join(base, 'fa-robust', 'datasets');
}

/**
 * The data folder named by $FA_ROBUST_DATA_DIR, or null when it is not set. An absolute path is
 * used as is. A relative one is resolved against the working directory or, when no such folder
 * exists there, against the nearest parent directory where it exists: so the value a workspace
 * sets at its root (e.g. ../shared/data) also works from a package or app folder, where
 * pnpm/turbo run scripts. When it exists nowhere, it is resolved against the working directory.
 */
export async function defaultDataDir(): Promise<string | null> {
  const { path, fs } = await nodeModules();
  const fromEnv = env(DATA_DIR_ENV);
  if (!fromEnv) return null;
  if (path.isAbsolute(fromEnv)) return fromEnv;
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    const candidate = path.resolve(dir, fromEnv);
    const isDir = await fs.stat(candidate).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (isDir) return candidate;
    if (path.dirname(dir) === dir) return path.resolve(fromEnv);
  }
}
