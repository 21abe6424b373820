// Autocomplete under a fixed rate, straight to the service: 1,000 requests per second over 16 keep-alive
// connections (open loop: requests leave on schedule whether or not earlier ones have answered, and latency is
// counted from the scheduled time, so a stall is not hidden). Starts the service itself on a free port.
// Run: node bench/load-bench.js [rps] [seconds] [connections]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { loadavg } from 'node:os';
import { createHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const rps = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 20);
const connections = Number(process.argv[4] ?? 16);
const queries = ['감', '가', '키보', 'ㅋㅂ', '노트', '서울', 'ke', 'key', 'the', 'wor', '무선', '사랑', 'rkawk'].map(encodeURIComponent);

const port = await new Promise((resolve) => {
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const service = spawn(process.execPath, [fileURLToPath(new URL('../src/main.js', import.meta.url))], {
  env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', services__catalog__http__0: '' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });

function get(path) {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
    });
    request.on('error', () => resolve(0));
  });
}

for (let i = 0; i < 100 && (await get('/health/live')) !== 200; i++) await new Promise((r) => setTimeout(r, 100));
// Warm-up: the JIT and the connections, at the same rate for 3 s, not counted.
await run(3, createHistogram(), createHistogram());

// Two clocks: from each request's scheduled time (a stall of the service or of this generator counts) and from the
// moment it was actually sent (the generator shares the 2 cores, so its own delays are shown apart).
const latency = createHistogram();
const fromSend = createHistogram();
const { sent, failed, elapsed } = await run(seconds, latency, fromSend);
const ms = (ns) => (ns / 1e6).toFixed(2);
console.log(`node ${process.version}, ${connections} connections, target ${rps} rps for ${seconds} s`);
console.log(`sent ${sent} in ${elapsed.toFixed(1)} s (${Math.round(sent / elapsed)} rps), failed ${failed}`);
const report = (h) => `p50 ${ms(h.percentile(50))}, p90 ${ms(h.percentile(90))}, p99 ${ms(h.percentile(99))}, p99.9 ${ms(h.percentile(99.9))}, max ${ms(h.max)}`;
console.log(`latency ms from schedule: ${report(latency)}`);
console.log(`latency ms from send:     ${report(fromSend)}`);
const rss = readFileSync(`/proc/${service.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)?.[1];
const hwm = readFileSync(`/proc/${service.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/)?.[1];
console.log(`service RSS ${(rss / 1024).toFixed(0)} MiB (peak ${(hwm / 1024).toFixed(0)} MiB), ${loadavg().map((l) => l.toFixed(1)).join(' ')} load average`);
service.kill('SIGTERM');
await once(service, 'exit');
agent.destroy();

async function run(duration, histogram, fromSend) {
  const interval = 1e9 / rps;
  const start = process.hrtime.bigint();
  const total = Math.round(duration * rps);
  const pending = [];
  let failed = 0;
  for (let i = 0; i < total; i++) {
    const due = start + BigInt(Math.round(i * interval));
    let now = process.hrtime.bigint();
    if (due > now + 1_000_000n) await new Promise((r) => setTimeout(r, Number(due - now) / 1e6));
    while ((now = process.hrtime.bigint()) < due) await new Promise((r) => setImmediate(r));
    const sentAt = process.hrtime.bigint();
    pending.push(get(`/complete?q=${queries[i % queries.length]}&limit=10`).then((status) => {
      if (status !== 200) failed++;
      const end = process.hrtime.bigint();
      histogram.record(Math.max(1, Number(end - due)));
      fromSend.record(Math.max(1, Number(end - sentAt)));
    }));
  }
  await Promise.all(pending);
  return { sent: total, failed, elapsed: Number(process.hrtime.bigint() - start) / 1e9 };
}
