module github.com/clickthebutton/clickthebutton/bench

go 1.26.8

require (
	github.com/clickthebutton/clickthebutton v0.0.0-00010101000000-000000000000
	github.com/google/uuid v1.6.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/redis/rueidis v1.0.79
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

// The click benchmark runs the Redis backend's own script (game/redisgame).
replace github.com/clickthebutton/clickthebutton => ../
