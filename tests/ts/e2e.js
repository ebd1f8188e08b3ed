#!/usr/bin/env node
// The official Temporal TypeScript SDK (@temporalio/client + @temporalio/worker) against the
// server at TEMPORAL_ADDRESS: one worker on a fresh task queue, then one section per feature:
// activities, a signal and a query, an update (with a rejecting validator) and a child workflow.
// Run by tests/python/test_typescript_sdk.py; standalone:
//
//   TEMPORAL_ADDRESS=127.0.0.1:7233 node tests/ts/e2e.js [PREFIX]
//
// Env: TEMPORAL_ADDRESS (host:port, required), TEMPORAL_NAMESPACE (default "default"),
// PERDURE_TS_PREFIX (workflow id and task queue prefix; argv[2] wins), PERDURE_TS_SKIP_UPDATE=1
// (skip the update section), PERDURE_TS_SECTION_TIMEOUT_S (per section, default 60).
// Exits 0 when every section passed, 1 with the failing section and its error otherwise.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { Client, Connection, WorkflowUpdateFailedError } = require('@temporalio/client');
const { DefaultLogger, NativeConnection, Runtime, Worker } = require('@temporalio/worker');
const activities = require('./activities');
const wfs = require('./workflows');

const address = process.env.TEMPORAL_ADDRESS;
const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
const prefix =
  process.argv[2] || process.env.PERDURE_TS_PREFIX || `ts-${crypto.randomUUID().slice(0, 8)}`;
const skipUpdate = process.env.PERDURE_TS_SKIP_UPDATE === '1';
const sectionTimeoutMs = 1000 * Number(process.env.PERDURE_TS_SECTION_TIMEOUT_S || 60);
const taskQueue = `${prefix}-tq`;

function log(msg) {
  console.log(`[ts-e2e] ${msg}`);
}

function fail(msg) {
  console.error(`[ts-e2e] FAILED: ${msg}`);
  process.exit(1);
}

// Rejects after `ms` so no wait is unbounded; the timer never keeps the process alive.
function withTimeout(what, ms, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describeError(err) {
  let text = err && err.stack ? err.stack : String(err);
  for (let cause = err && err.cause; cause; cause = cause.cause) {
    text += `\n  caused by: ${cause.stack || cause}`;
  }
  return text;
}

const startOptions = (id) => ({
  taskQueue,
  workflowId: `${prefix}-${id}`,
  // Server-side backstop, so nothing this script starts outlives a failed run for long.
  workflowExecutionTimeout: '5 minutes',
});

async function activitiesSection(client) {
  const result = await client.workflow.execute(wfs.activityWorkflow, {
    ...startOptions('activities'),
    args: ['Perdure'],
  });
  assert.deepEqual(result, {
    greeting: 'Hello, Perdure!',
    doubled: { value: 30, attempt: 1 },
  });
}

async function signalQuerySection(client) {
  const handle = await client.workflow.start(wfs.signalQueryWorkflow, startOptions('signal-query'));
  await handle.signal(wfs.addItemSignal, 'apple');
  await handle.signal(wfs.addItemSignal, 'pear');
  // Queries are consistent with what the server accepted before them: both signals are seen.
  assert.deepEqual(await handle.query(wfs.stateQuery), { items: ['apple', 'pear'], approved: false });
  await handle.signal(wfs.approveSignal);
  assert.deepEqual(await handle.result(), ['apple', 'pear']);
  // A closed workflow still answers queries (the worker replays its history).
  assert.deepEqual(await handle.query(wfs.stateQuery), { items: ['apple', 'pear'], approved: true });
  const desc = await handle.describe();
  assert.equal(desc.status.name, 'COMPLETED');
}

async function updateSection(client) {
  const handle = await client.workflow.start(wfs.updateWorkflow, startOptions('update'));
  assert.equal(await handle.executeUpdate(wfs.addUpdate, { args: [5] }), 5);
  assert.equal(await handle.executeUpdate(wfs.addUpdate, { args: [7] }), 12);

  let rejected;
  try {
    await handle.executeUpdate(wfs.addUpdate, { args: [-3] });
  } catch (err) {
    rejected = err;
  }
  assert.ok(rejected, 'an update with a negative amount must be rejected by the validator');
  assert.ok(
    rejected instanceof WorkflowUpdateFailedError,
    `expected WorkflowUpdateFailedError, got ${describeError(rejected)}`,
  );
  assert.equal(rejected.cause && rejected.cause.message, 'rejected: negative amount -3');

  // The rejected update changed nothing.
  assert.equal(await handle.query(wfs.totalQuery), 12);
  await handle.signal(wfs.finishSignal);
  assert.equal(await handle.result(), 12);
}

async function childSection(client) {
  const handle = await client.workflow.start(wfs.parentWorkflow, {
    ...startOptions('parent'),
    args: [21],
  });
  const childId = `${handle.workflowId}-child`;
  const expected = 'child got 21, doubled 42';
  assert.deepEqual(await handle.result(), { childId, childResult: expected });
  // The child is a workflow of its own on the server, completed with the same result.
  const child = client.workflow.getHandle(childId);
  assert.equal(await child.result(), expected);
  const desc = await child.describe();
  assert.equal(desc.status.name, 'COMPLETED');
  assert.equal(desc.type, 'childWorkflow');
  assert.equal(desc.parentExecution && desc.parentExecution.workflowId, handle.workflowId);
}

async function main() {
  if (!address) fail('TEMPORAL_ADDRESS (host:port) is not set');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  log(`server ${address}, namespace ${namespace}, task queue ${taskQueue}`);

  const nativeConnection = await withTimeout(
    'worker connection',
    30_000,
    NativeConnection.connect({ address }),
  );
  const connection = await withTimeout(
    'client connection',
    30_000,
    Connection.connect({ address, connectTimeout: '30 seconds' }),
  );
  const client = new Client({ connection, namespace });

  const started = Date.now();
  const worker = await withTimeout(
    'worker bundle and start',
    120_000,
    Worker.create({
      connection: nativeConnection,
      namespace,
      taskQueue,
      workflowsPath: require.resolve('./workflows'),
      activities,
      shutdownGraceTime: '5 seconds',
      shutdownForceTime: '10 seconds',
    }),
  );
  log(`worker created in ${((Date.now() - started) / 1000).toFixed(1)}s`);

  const sections = [
    ['activities', activitiesSection],
    ['signal and query', signalQuerySection],
    ['update', skipUpdate ? null : updateSection],
    ['child workflow', childSection],
  ];
  const failures = [];
  await worker.runUntil(async () => {
    for (const [name, run] of sections) {
      if (!run) {
        log(`SKIP ${name} (PERDURE_TS_SKIP_UPDATE=1)`);
        continue;
      }
      const t0 = Date.now();
      try {
        await withTimeout(name, sectionTimeoutMs, run(client));
        log(`PASS ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      } catch (err) {
        log(`FAIL ${name}: ${describeError(err)}`);
        failures.push(name);
      }
    }
  });
  await connection.close();
  await nativeConnection.close();

  if (failures.length) fail(`sections failed: ${failures.join(', ')}`);
  log(`all sections passed${skipUpdate ? ' (update skipped)' : ''}`);
}

// A hard stop for everything, including a worker shutdown that hangs.
setTimeout(() => fail('overall deadline (6 minutes) exceeded'), 6 * 60_000).unref();

main().then(
  () => process.exit(0),
  (err) => fail(describeError(err)),
);
