package reconcile

import (
	"context"
	"sync"
	"time"
)

// Mailbox hands the latest of a series of values (a switch's status, its
// report) from a producer to a sender goroutine. Put never blocks and
// replaces a value not yet sent, so a slow or unreachable receiver neither
// holds up the producer (a reconcile pass) nor ever gets a stale value.
// The zero value is not usable; call NewMailbox.
type Mailbox[T any] struct {
	wake chan struct{}

	mu      sync.Mutex
	val     T
	pending bool
	have    bool // val holds a value (pending, or the last one sent)
}

// NewMailbox returns an empty mailbox.
func NewMailbox[T any]() *Mailbox[T] {
	return &Mailbox[T]{wake: make(chan struct{}, 1)}
}

// Put makes v the value to send next.
func (m *Mailbox[T]) Put(v T) {
	m.mu.Lock()
	m.val, m.pending, m.have = v, true, true
	m.mu.Unlock()
	m.signal()
}

// Resend sends the last value again (the receiver lost it: a server that
// forgot an agent's status when its stream ended). Nothing when no value
// was ever put.
func (m *Mailbox[T]) Resend() {
	m.mu.Lock()
	m.pending = m.have
	m.mu.Unlock()
	m.signal()
}

func (m *Mailbox[T]) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Mailbox[T]) take() (T, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.val, m.pending
	m.pending = false
	return v, ok
}

// requeue puts v back after a failed send unless a newer value came.
func (m *Mailbox[T]) requeue() {
	m.mu.Lock()
	m.pending = true
	m.mu.Unlock()
}

// MailboxConfig configures Mailbox.Run.
type MailboxConfig struct {
	// MinInterval is the least time between two sends; values put sooner
	// are coalesced into the latest. Zero: none.
	MinInterval time.Duration
	// BackoffMin and BackoffMax bound the retries of failed sends.
	// Defaults 100ms and 30s.
	BackoffMin, BackoffMax time.Duration
}

// Run sends values with send until ctx is done: every value put, or the
// latest when several came during a send. A failed send is retried after a
// backoff, or at once when a newer value is put (then the newer one is
// sent). send must honour ctx.
func (m *Mailbox[T]) Run(ctx context.Context, cfg MailboxConfig, send func(context.Context, T) error) {
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 100 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	bo := Backoff{Min: cfg.BackoffMin, Max: cfg.BackoffMax}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-retry.C:
		}
		v, ok := m.take()
		if !ok {
			continue
		}
		if err := send(ctx, v); err != nil {
			if ctx.Err() != nil {
				return
			}
			m.requeue()
			retry.Reset(bo.Next())
			continue
		}
		bo.Reset()
		retry.Stop()
		if cfg.MinInterval > 0 && !Sleep(ctx, cfg.MinInterval) {
			return
		}
	}
}
