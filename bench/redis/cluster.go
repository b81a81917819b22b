package main

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// A Redis Cluster for the clicks mode. rueidis finds out by itself that the address it
// is given is a cluster node and routes each script to the primary of its slot, as a
// node of the game does. go-redis's single-node client does not: the players (whose
// keys spread over every primary) could not be created, and the flush and the server
// statistics would reach one primary only. newAdmin asks the server and, on a cluster,
// returns a cluster client; eachPrimary runs the per-server commands on every primary.

// isCluster tells whether the Redis at addr runs in cluster mode.
func isCluster(ctx context.Context, addr string) (bool, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})
	defer c.Close()
	info, err := c.Info(ctx, "cluster").Result()
	if err != nil {
		return false, err
	}
	return strings.Contains(info, "cluster_enabled:1"), nil
}

// newAdmin is the client that creates the players and reads the statistics: a
// cluster client when addr is a cluster node.
func newAdmin(ctx context.Context, addr string) (redis.UniversalClient, bool, error) {
	cluster, err := isCluster(ctx, addr)
	if err != nil {
		return nil, false, err
	}
	if cluster {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}}), true, nil
	}
	return redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1}), false, nil
}

// eachPrimary runs f on every primary of a cluster, or on the one server otherwise.
func eachPrimary(ctx context.Context, rdb redis.UniversalClient, f func(context.Context, *redis.Client) error) error {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, f)
	case *redis.Client:
		return f(ctx, c)
	default:
		panic("redis: eachPrimary: unexpected client type")
	}
}
