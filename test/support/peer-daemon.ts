import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './quench-process.js';

/**
 * A real Prometheus-family daemon (Prometheus, Alertmanager) on 127.0.0.1 with its files in a
 * temporary folder, started and awaited until `/-/ready` answers. Each peer's helper only says
 * which config files to write and which flags to pass.
 */
export interface PeerDaemon {
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startPeerDaemon(options: {
  name: string;
  bin: string;
  /** File name → contents, written to the temporary folder. */
  files: Record<string, string>;
  /** Flags, given the folder and the free port chosen for the web listener. */
  args: (dir: string, port: number) => string[];
  readyTimeoutMs?: number;
}): Promise<PeerDaemon> {
  const dir = mkdtempSync(join(tmpdir(), `quench-${options.name.toLowerCase()}-`));
  const port = await freePort();
  for (const [file, contents] of Object.entries(options.files)) writeFileSync(join(dir, file), contents);
  const child: ChildProcess = spawn(options.bin, options.args(dir, port), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${options.name} did not become ready on ${url} (exit ${child.exitCode}):\n${output}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return { url, output: () => output, stop };
}
