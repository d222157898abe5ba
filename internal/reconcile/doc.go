// Package reconcile holds the loop machinery the agents (switch agent, host
// agent, soft VTEP, the agent API client) share: a capped exponential
// [Backoff] for retries after failures and [Sleep], a wait that ends early
// when the context is done.
package reconcile
