package moderation

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	switchboard "github.com/switchboard-chat/switchboard"
)

// ParseWordFile reads word lists in the word file format:
//
//	# a comment (whole lines only, so "c#" is a word)
//	[block]
//	first word
//	second word
//	[mask profanity]
//	…
//
// One word per line, leading and trailing space trimmed, blank lines
// skipped. A header "[action]" or "[action name]" starts a list; action is
// block, mask, review or handoff. Words before the first header, an
// unknown action or an unclosed header are EINVALID errors naming the line.
func ParseWordFile(r io.Reader) ([]switchboard.WordList, error) {
	var lists []switchboard.WordList
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") {
				return nil, switchboard.Errorf(switchboard.EINVALID, "Line %d: unclosed section header %q.", n, line)
			}
			fields := strings.Fields(line[1 : len(line)-1])
			if len(fields) == 0 {
				return nil, switchboard.Errorf(switchboard.EINVALID, "Line %d: empty section header.", n)
			}
			action := switchboard.ModerationAction(strings.ToLower(fields[0]))
			if !validAction(action) {
				return nil, switchboard.Errorf(switchboard.EINVALID, "Line %d: unknown action %q (want block, mask, review or handoff).", n, fields[0])
			}
			name := strings.Join(fields[1:], " ")
			if name == "" {
				name = string(action)
			}
			lists = append(lists, switchboard.WordList{Name: name, Action: action})
		default:
			if len(lists) == 0 {
				return nil, switchboard.Errorf(switchboard.EINVALID, "Line %d: word %q before the first [action] header.", n, line)
			}
			l := &lists[len(lists)-1]
			l.Words = append(l.Words, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read word file: %w", err)
	}
	return lists, nil
}

// fileSet is the word files of one scope and what they looked like when
// last loaded.
type fileSet struct {
	paths  []string
	stamps []fileStamp
}

type fileStamp struct {
	mtime time.Time
	size  int64
	ok    bool
}

func (s fileStamp) equal(t fileStamp) bool {
	return s.ok == t.ok && s.size == t.size && s.mtime.Equal(t.mtime)
}

func stampFiles(paths []string) []fileStamp {
	stamps := make([]fileStamp, len(paths))
	for i, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			stamps[i] = fileStamp{mtime: fi.ModTime(), size: fi.Size(), ok: true}
		}
	}
	return stamps
}

// LoadFiles replaces the lists of scope ("" = global) with those of the
// word files at paths and remembers the files for Watch. With no paths the
// scope's lists are removed and it is no longer watched.
func (f *Filter) LoadFiles(scope string, paths ...string) error {
	stamps := stampFiles(paths) // before reading: a write during the read shows up next time
	lists, err := readWordFiles(paths)
	if err != nil {
		return err
	}
	if err := f.SetLists(scope, lists); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(paths) == 0 {
		delete(f.files, scope)
	} else {
		f.files[scope] = &fileSet{paths: slices.Clone(paths), stamps: stamps}
	}
	return nil
}

func readWordFiles(paths []string) ([]switchboard.WordList, error) {
	var all []switchboard.WordList
	for _, p := range paths {
		file, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("open word file: %w", err)
		}
		lists, err := ParseWordFile(file)
		file.Close()
		if err != nil {
			return nil, fmt.Errorf("word file %s: %w", p, err)
		}
		all = append(all, lists...)
	}
	return all, nil
}

// Watch reloads the files given to LoadFiles whenever one of them changes
// (modification time or size), checking every interval, until ctx is done;
// it then returns ctx.Err(). A file that fails to load is logged and the
// old lists stay until it changes again. Run it in a goroutine you own.
func (f *Filter) Watch(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			f.reloadChanged()
		}
	}
}

// reloadChanged reloads every scope whose files changed since last loaded.
func (f *Filter) reloadChanged() {
	f.mu.Lock()
	type job struct {
		scope string
		paths []string
	}
	var jobs []job
	for scope, fs := range f.files {
		now := stampFiles(fs.paths)
		if !slices.EqualFunc(now, fs.stamps, fileStamp.equal) {
			fs.stamps = now // failed loads are not retried until the next change
			jobs = append(jobs, job{scope, fs.paths})
		}
	}
	f.mu.Unlock()
	for _, j := range jobs {
		if err := f.LoadFiles(j.scope, j.paths...); err != nil {
			f.logger.Error("moderation: reload word files", "scope", j.scope, "paths", j.paths, "err", err)
			continue
		}
		f.logger.Info("moderation: reloaded word files", "scope", j.scope, "paths", j.paths)
	}
}
