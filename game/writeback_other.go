//go:build !linux

package game

// startWriteback is a no-op where there is no sync_file_range: the final fsync does
// all the work.
func startWriteback(File, int64, int64) {}
