// Workflows for e2e.js. The worker bundles this file with webpack into its deterministic
// sandbox; e2e.js also requires it (outside the sandbox) for the signal, query and update
// definitions, which are plain objects.
'use strict';

const wf = require('@temporalio/workflow');

const { greet, double } = wf.proxyActivities({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 1 },
});

// Section "activities": two activities in sequence, the second fed by the first's result.
async function activityWorkflow(name) {
  const greeting = await greet(name);
  const doubled = await double(greeting.length);
  return { greeting, doubled };
}

// Section "signal and query": collects items until approved, exposing its state to a query.
const addItemSignal = wf.defineSignal('addItem');
const approveSignal = wf.defineSignal('approve');
const stateQuery = wf.defineQuery('state');

async function signalQueryWorkflow() {
  const state = { items: [], approved: false };
  wf.setHandler(addItemSignal, (item) => {
    state.items.push(item);
  });
  wf.setHandler(approveSignal, () => {
    state.approved = true;
  });
  wf.setHandler(stateQuery, () => state);
  await wf.condition(() => state.approved);
  return state.items;
}

// Section "update": a counter whose `add` update returns the new total; the validator rejects
// negative amounts before anything is written. Completes on the `finish` signal.
const addUpdate = wf.defineUpdate('add');
const finishSignal = wf.defineSignal('finish');
const totalQuery = wf.defineQuery('total');

async function updateWorkflow() {
  let total = 0;
  let finished = false;
  wf.setHandler(
    addUpdate,
    (amount) => {
      total += amount;
      return total;
    },
    {
      validator: (amount) => {
        if (amount < 0) {
          throw new Error(`rejected: negative amount ${amount}`);
        }
      },
    },
  );
  wf.setHandler(finishSignal, () => {
    finished = true;
  });
  wf.setHandler(totalQuery, () => total);
  await wf.condition(() => finished);
  return total;
}

// Section "child": the parent starts a child (which runs an activity) and returns its result.
async function childWorkflow(n) {
  const { value } = await double(n);
  return `child got ${n}, doubled ${value}`;
}

async function parentWorkflow(n) {
  const childId = `${wf.workflowInfo().workflowId}-child`;
  const childResult = await wf.executeChild(childWorkflow, { args: [n], workflowId: childId });
  return { childId, childResult };
}

module.exports = {
  activityWorkflow,
  signalQueryWorkflow,
  updateWorkflow,
  childWorkflow,
  parentWorkflow,
  addItemSignal,
  approveSignal,
  stateQuery,
  addUpdate,
  finishSignal,
  totalQuery,
};
