// Activities for e2e.js: plain functions run by the TypeScript SDK worker outside the sandbox.
'use strict';

const { Context } = require('@temporalio/activity');

async function greet(name) {
  return `Hello, ${name}!`;
}

// Returns the attempt too, so the test sees the activity really ran through the server once.
async function double(n) {
  return { value: n * 2, attempt: Context.current().info.attempt };
}

module.exports = { greet, double };
