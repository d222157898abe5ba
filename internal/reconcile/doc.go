// Package reconcile holds the loop machinery every agent (switch agent,
// host agent, soft VTEP) shares, so they behave alike: [Loop], the one
// level-triggered reconcile loop (a trigger cuts any wait short, failed
// passes retry with backoff, a resync tick, the same metrics for all);
// [Mailbox], a latest-value hand-off to a sender goroutine, so that
// reports to a slow server never hold up a reconcile pass; [Backoff], a
// capped exponential delay with jitter, also used by every redial; and
// [Sleep], a wait that ends early when the context is done.
package reconcile
