package moderation_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/moderation"
)

func TestParseWordFile(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		lists, err := moderation.ParseWordFile(strings.NewReader("\uFEFF# comment\n\n[block]\n  secret  \n机密\n[MASK profanity words]\nc#\nbad\n# more\n[mask]\nworse\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := []switchboard.WordList{
			{Name: "block", Action: switchboard.ActionBlock, Words: []string{"secret", "机密"}},
			{Name: "profanity words", Action: switchboard.ActionMask, Words: []string{"c#", "bad"}},
			{Name: "mask", Action: switchboard.ActionMask, Words: []string{"worse"}},
		}
		if len(lists) != len(want) {
			t.Fatalf("%+v", lists)
		}
		for i := range want {
			if lists[i].Name != want[i].Name || lists[i].Action != want[i].Action || strings.Join(lists[i].Words, "|") != strings.Join(want[i].Words, "|") {
				t.Fatalf("list %d = %+v, want %+v", i, lists[i], want[i])
			}
		}
	})
	for name, in := range map[string]string{
		"WordBeforeHeader": "bad\n[mask]\n",
		"UnknownAction":    "[delete]\nbad\n",
		"Unclosed":         "[mask\nbad\n",
		"EmptyHeader":      "[ ]\nbad\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := moderation.ParseWordFile(strings.NewReader(in))
			if switchboard.ErrorCode(err) != switchboard.EINVALID {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestSetLists(t *testing.T) {
	t.Run("Invalid", func(t *testing.T) {
		f := MustFilter(t, mask("keep"))
		for _, l := range []switchboard.WordList{
			{Action: "delete", Words: []string{"x"}},
			{Action: switchboard.ActionAllow, Words: []string{"x"}},
			mask("!!!"),
			mask("f*ck"),
		} {
			if err := f.SetLists("", []switchboard.WordList{l}); switchboard.ErrorCode(err) != switchboard.EINVALID {
				t.Fatalf("%+v: err = %v", l, err)
			}
		}
		if f.Check("", "keep").Text != "****" {
			t.Fatal("failed SetLists changed the lists")
		}
	})
	t.Run("Scopes", func(t *testing.T) {
		f := MustFilter(t, mask("global"))
		if err := f.SetLists("inbox1", []switchboard.WordList{list(switchboard.ActionBlock, "local")}); err != nil {
			t.Fatal(err)
		}
		if res := f.Check("inbox1", "global local"); res.Text != "****** local" || res.Action != switchboard.ActionBlock {
			t.Fatalf("inbox1: %+v", res)
		}
		if res := f.Check("inbox2", "global local"); res.Text != "****** local" || res.Action != switchboard.ActionMask {
			t.Fatalf("inbox2: %+v", res)
		}
		// Changing the global lists reaches every scope.
		if err := f.SetLists("", []switchboard.WordList{mask("world")}); err != nil {
			t.Fatal(err)
		}
		if res := f.Check("inbox1", "global local world"); res.Text != "global local *****" || res.Action != switchboard.ActionBlock {
			t.Fatalf("inbox1 after global change: %+v", res)
		}
		if got := f.Lists("inbox1"); len(got) != 1 || got[0].Words[0] != "local" {
			t.Fatalf("Lists = %+v", got)
		}
		got := f.Lists("")
		got[0].Words[0] = "changed"
		if f.Lists("")[0].Words[0] != "world" {
			t.Fatal("Lists returned shared memory")
		}
		// Removing a scope.
		if err := f.SetLists("inbox1", nil); err != nil {
			t.Fatal(err)
		}
		if res := f.Check("inbox1", "local"); res.Action != switchboard.ActionAllow {
			t.Fatalf("removed scope: %+v", res)
		}
	})
}

func TestLoadFilesAndWatch(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	write := func(path, content string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write(a, "[mask]\nalpha\n", t0)
	write(b, "[block]\nbeta\n", t0)
	f := moderation.New(moderation.Options{})
	if err := f.LoadFiles("inbox", a, b); err != nil {
		t.Fatal(err)
	}
	if res := f.Check("inbox", "alpha beta"); res.Action != switchboard.ActionBlock || res.Text != "***** beta" {
		t.Fatalf("%+v", res)
	}
	if err := f.LoadFiles("", filepath.Join(dir, "missing.txt")); err == nil {
		t.Fatal("missing file loaded")
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Watch(ctx, 5*time.Millisecond) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Watch returned %v", err)
		}
	}()

	write(a, "[mask]\ngamma\n", t0.Add(time.Minute))
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if f.Check("inbox", "gamma").Action != switchboard.ActionMask {
			return errorf("not reloaded")
		}
		return nil
	})
	// A broken file keeps the old lists.
	write(b, "oops\n", t0.Add(2*time.Minute))
	time.Sleep(50 * time.Millisecond) // several intervals; nothing to wait for
	if res := f.Check("inbox", "gamma beta"); res.Action != switchboard.ActionBlock {
		t.Fatalf("broken file replaced the lists: %+v", res)
	}
	write(b, "[review]\ndelta\n", t0.Add(3*time.Minute))
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if f.Check("inbox", "delta").Action != switchboard.ActionReview {
			return errorf("not reloaded after fix")
		}
		return nil
	})
}
