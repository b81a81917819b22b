package game

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModerationOutlivesARestart: bans and locked handles are on disk when the call
// returns, and a restart on the same folder holds them.
func TestModerationOutlivesARestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, SnapshotFile)
	e, _, err := OpenMemory(DefaultConfig(), path)
	if err != nil {
		t.Fatal(err)
	}
	banned, locked := join(t, e, "banned"), join(t, e, "locked")
	mustClick(t, e, banned, t0)
	if err := e.Ban(ctx, banned.id, `rude, and "fast"`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.LockHandle(ctx, locked, "chosen"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ModerationFile))
	if err != nil || !strings.Contains(string(data), banned.id.String()) || !strings.Contains(string(data), locked.id.String()+",,,true") {
		t.Fatalf("moderation file %q, %v", data, err)
	}
	if _, err := (&Snapshotter{Path: path, Source: e}).Flush(ctx); err != nil {
		t.Fatal(err)
	}

	again, n, err := OpenMemory(DefaultConfig(), path)
	if err != nil || n != 2 {
		t.Fatalf("reopen: %d players, %v", n, err)
	}
	if _, err := again.Restore(ctx, banned.id, "banned"); !errors.Is(err, ErrBanned) || !strings.Contains(err.Error(), `rude, and "fast"`) {
		t.Fatalf("the ban after a restart: %v", err)
	}
	p := again.get(locked.id)
	if _, err := again.Rename(ctx, p, "back"); !errors.Is(err, ErrHandleLocked) {
		t.Fatalf("the lock after a restart: %v", err)
	}
	if b := again.Rebuild(); len(b.Rows) != 0 {
		t.Fatalf("a banned player is on the board after a restart: %+v", b.Rows)
	}
	// Unban and unlock are kept too.
	if err := again.Unban(ctx, banned.id); err != nil {
		t.Fatal(err)
	}
	if err := again.UnlockHandle(ctx, p); err != nil {
		t.Fatal(err)
	}
	third, _, err := OpenMemory(DefaultConfig(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := third.Restore(ctx, banned.id, "banned"); err != nil {
		t.Fatalf("after unban and restart: %v", err)
	}
	if _, err := third.Rename(ctx, third.get(locked.id), "free"); err != nil {
		t.Fatalf("after unlock and restart: %v", err)
	}
}

func TestMalformedModerationStopsTheStart(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{"id,banned_at\n", "line 1"},
		{"id,banned_at,ban_reason,handle_locked\nnot-a-uuid,,,false\n", "line 2"},
		{"id,banned_at,ban_reason,handle_locked\n0b0e6a47-3c2a-4f6e-9c3e-2a7c1d9b8e11,yesterday,x,false\n", "banned_at"},
		{"id,banned_at,ban_reason,handle_locked\n0b0e6a47-3c2a-4f6e-9c3e-2a7c1d9b8e11,2030-01-01T00:00:00Z,,false\n", "reason"},
		{"id,banned_at,ban_reason,handle_locked\n0b0e6a47-3c2a-4f6e-9c3e-2a7c1d9b8e11,,,maybe\n", "handle_locked"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ModerationFile), []byte(tc.data), 0o600)
		_, _, err := OpenMemory(DefaultConfig(), filepath.Join(dir, SnapshotFile))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ModerationFile) {
			t.Errorf("%q: %v, want an error naming the file and %q", tc.data, err, tc.want)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, ModerationFile)); string(got) != tc.data {
			t.Errorf("the malformed file was changed")
		}
	}
}
