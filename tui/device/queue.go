package device

import "sync"

// queue hands values from a producer that must never block (a flasher
// callback, a read loop) to one consumer that takes them in batches.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	closed bool
	notify chan struct{}
}

func newQueue[T any]() *queue[T] { return &queue[T]{notify: make(chan struct{}, 1)} }

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, v)
	}
	q.mu.Unlock()
	q.wake()
}

func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

func (q *queue[T]) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// take waits until at least one value is queued or the queue is closed,
// then returns what is queued (up to max). open is false once the queue is
// closed and drained.
func (q *queue[T]) take(max int) (batch []T, open bool) {
	for {
		q.mu.Lock()
		if n := min(len(q.items), max); n > 0 {
			batch = append([]T(nil), q.items[:n]...)
			q.items = q.items[n:]
			open = !q.closed || len(q.items) > 0
			q.mu.Unlock()
			return batch, open
		}
		if q.closed {
			q.mu.Unlock()
			return nil, false
		}
		q.mu.Unlock()
		<-q.notify
	}
}

// pushFront puts a value back at the head (a taker that read too far).
func (q *queue[T]) pushFront(v T) {
	q.mu.Lock()
	q.items = append([]T{v}, q.items...)
	q.mu.Unlock()
	q.wake()
}
