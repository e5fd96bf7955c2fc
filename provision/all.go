package provision

import (
	"context"
	"errors"
	"sync"
)

// RunAll provisions several boards at once, each with its own thing and
// certificate (Options.Thing must be empty). Results come back in the
// order of targets.
func RunAll(ctx context.Context, targets []Target, o Options, emit func(Event)) ([]*Result, error) {
	if len(targets) > 1 && o.Thing != "" {
		return nil, errors.New("one thing name for several boards: leave --thing out, each board gets a name from its MAC")
	}
	if emit == nil {
		emit = func(Event) {}
	}
	var mu sync.Mutex
	locked := func(e Event) { mu.Lock(); defer mu.Unlock(); emit(e) }
	out := make([]*Result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = Run(ctx, t, o, locked)
		}()
	}
	wg.Wait()
	return out, nil
}
