// bpmn-engine running Linli's lifecycle (flow.bpmn): each user task signalled in turn, the
// accept task under a 30-minute boundary timer, the engine's whole state (getState) written
// to PostgreSQL after every step, each write its own committed transaction.
//
// node bpmn_engine.mjs DATABASE_URL SECONDS CALLERS  ->  one JSON line: lifecycles/s of
// CALLERS concurrent callers, each walking lifecycles one after another. Run from the folder
// bpmn-engine and pg are installed in (bench/peers/run copies it there).
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Engine } from 'bpmn-engine';
import pg from 'pg';

const STEPS = ['triage', 'dispatch', 'accept', 'start', 'complete', 'confirm'];
// bpmn-engine reads a timer's duration as an ISO 8601 duration.
const source = readFileSync(new URL('./flow.bpmn', import.meta.url), 'utf8').replaceAll('TIMER', 'PT30M');

async function lifecycle(db) {
  const id = randomUUID();
  const engine = new Engine({ name: id, source });
  const execution = await engine.execute();
  const ended = engine.waitFor('end');
  await db.query('INSERT INTO bpmn_tickets (id, step, state) VALUES ($1, $2, $3)',
    [id, 'submit', JSON.stringify(await engine.getState())]);
  for (const step of STEPS) {
    const waiting = execution.getPostponed().find((a) => a.id === step);
    if (!waiting) throw new Error(`${step} is not waiting`);
    waiting.signal({ by: step });
    await db.query('UPDATE bpmn_tickets SET step = $2, state = $3 WHERE id = $1',
      [id, step, JSON.stringify(await engine.getState())]);
  }
  await ended; // the confirm step ends the process
}

async function main(url, seconds, callers) {
  const pool = new pg.Pool({ connectionString: url, max: callers });
  await pool.query('CREATE TABLE IF NOT EXISTS bpmn_tickets (id UUID PRIMARY KEY, step TEXT NOT NULL, state JSONB NOT NULL)');
  const start = performance.now();
  const cpu = process.cpuUsage();
  const until = start + seconds * 1000;
  const caller = async () => {
    let done = 0;
    while (performance.now() < until) {
      await lifecycle(pool);
      done += 1;
    }
    return done;
  };
  const counts = await Promise.all(Array.from({ length: callers }, caller));
  const elapsed = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  await pool.end();
  const done = counts.reduce((a, b) => a + b, 0);
  const { version } = JSON.parse(readFileSync(new URL('./node_modules/bpmn-engine/package.json', import.meta.url), 'utf8'));
  console.log(JSON.stringify({
    engine: 'bpmn-engine', version, callers, lifecycles: done, seconds: elapsed, lifecycles_per_s: done / elapsed,
    cpu_s: (used.user + used.system) / 1e6,
  }));
}

await main(process.argv[2], Number(process.argv[3]), Number(process.argv[4]));
