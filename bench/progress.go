package bench

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows a live bar on a terminal, or a line every few seconds
// otherwise.
type progress struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

const progressEvery = 5 * time.Second

func newProgress(cfg *Config, name string, start, stopAt time.Time, rec *recorder, active *atomic.Int64) *progress {
	p := &progress{stop: make(chan struct{})}
	status := func() string {
		el := time.Since(start).Seconds()
		ok, bad := rec.ok.Load(), rec.failed.Load()
		return fmt.Sprintf("%s: %d users, %d ok, %d failed, %.0f streams/s", name, active.Load(), ok, bad, float64(ok)/max(el, 0.001))
	}
	var bar *progressbar.ProgressBar
	var total int64
	if cfg.Terminal {
		if cfg.Requests > 0 {
			total = int64(cfg.Requests)
		} else {
			total = int64(stopAt.Sub(start) / time.Second)
		}
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(cfg.Log), progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(), progressbar.OptionSetDescription(name), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		every := progressEvery
		if bar != nil {
			every = 250 * time.Millisecond
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				if bar != nil {
					_ = bar.Finish()
				}
				return
			case <-t.C:
				if bar == nil {
					cfg.logf("%s", status())
					continue
				}
				bar.Describe(status())
				if cfg.Requests > 0 {
					_ = bar.Set64(min(rec.started.Load(), total))
				} else {
					_ = bar.Set64(min(int64(time.Since(start)/time.Second), total))
				}
			}
		}
	}()
	return p
}

func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
}
