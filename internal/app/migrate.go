package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/game/redisgame"
	"github.com/clickthebutton/clickthebutton/server"
)

// Moving a game between a single server's scores.csv and Redis, both ways, with the
// cookie key, so that players keep their identities.

// scoresFile is the file an import or export works on.
func scoresFile(inv Invocation) string {
	if inv.File != "" {
		return inv.File
	}
	return filepath.Join(inv.Config.Data, game.SnapshotFile)
}

// ImportFile loads a scores file into the Redis game and reports what it did on out.
func ImportFile(ctx context.Context, inv Invocation, log *slog.Logger, out io.Writer) error {
	c := inv.Config
	file := scoresFile(inv)
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	b, err := redisgame.Open(ctx, redisgame.Options{URL: c.Redis, Rules: c.Rules, Log: log, OpTimeout: c.RedisTimeout})
	if err != nil {
		return err
	}
	defer b.Close()
	res, err := b.Import(ctx, func() (io.ReadCloser, error) { return os.Open(file) }, file, inv.Force)
	if err != nil {
		return fmt.Errorf("import %s: %w", file, err)
	}
	fmt.Fprintf(out, "imported %d players from %s into %s; the game now holds %d players and %d clicks\n",
		res.Imported, file, redactURL(c.Redis), res.Players, res.Clicks)
	if len(res.Skipped) > 0 {
		fmt.Fprintf(out, "kept %d players already in Redis as they were (first: %s)\n", len(res.Skipped), res.Skipped[0])
	}
	if c.Secret != "" {
		return nil // every node signs with CTB_SECRET
	}
	key, err := server.ReadSecretFile(filepath.Dir(file))
	if err != nil || key == nil {
		return err
	}
	shared, err := b.Secret(ctx, key)
	if err != nil {
		return err
	}
	if !bytes.Equal(shared, key) {
		fmt.Fprintf(out, "warning: Redis already holds another cookie key than %s: the imported players must pick a handle again (their scores stay under their ids)\n",
			filepath.Join(filepath.Dir(file), server.SecretFile))
		return nil
	}
	fmt.Fprintf(out, "the game's cookie key is now the one of %s: the players keep their identities\n", filepath.Join(filepath.Dir(file), server.SecretFile))
	return nil
}

// ExportFile writes the Redis game to a scores file, atomically, and the game's cookie
// key next to it unless a key file is there already.
func ExportFile(ctx context.Context, inv Invocation, log *slog.Logger, out io.Writer) error {
	c := inv.Config
	file := scoresFile(inv)
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	b, err := redisgame.Open(ctx, redisgame.Options{URL: c.Redis, Rules: c.Rules, Log: log, OpTimeout: c.RedisTimeout})
	if err != nil {
		return err
	}
	defer b.Close()
	var players, clicks int64
	counted := countingSource{Source: b, players: &players, clicks: &clicks}
	snap := &game.Snapshotter{Path: file, Source: counted, Log: log}
	if _, err := snap.Flush(ctx); err != nil {
		return fmt.Errorf("export to %s: %w", file, err)
	}
	fmt.Fprintf(out, "exported %d players (%d clicks) from %s to %s\n", players, clicks, redactURL(c.Redis), file)
	if c.Secret != "" {
		return nil
	}
	existing, err := server.ReadSecretFile(dir)
	if err != nil {
		return err
	}
	key, err := b.Secret(ctx, nil)
	if err != nil {
		return err
	}
	switch {
	case existing == nil:
		if err := server.WriteSecretFile(dir, key); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote the game's cookie key to %s: a server on this folder keeps the players' identities\n", filepath.Join(dir, server.SecretFile))
	case !bytes.Equal(existing, key):
		fmt.Fprintf(out, "warning: %s holds another key than the game's and was left as it is: a server on this folder logs every player out\n", filepath.Join(dir, server.SecretFile))
	}
	return nil
}

// countingSource counts the records a snapshot writes.
type countingSource struct {
	game.Source
	players, clicks *int64
}

func (s countingSource) Records(ctx context.Context, fn func(game.Record) error) error {
	return s.Source.Records(ctx, func(r game.Record) error {
		*s.players++
		*s.clicks += r.Total
		return fn(r)
	})
}
