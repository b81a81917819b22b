// Command gencsv writes a scores.csv of n players (the format of game/snapshot.go), so
// a server can be started with a million players for the snapshot benchmark.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

func main() {
	out := flag.String("out", "scores.csv", "file to write")
	n := flag.Int("players", 1_000_000, "players")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("id,handle,score,best,total,last_click,best_at\n")
	rng := rand.New(rand.NewPCG(5, 6))
	now := time.Now().UTC()
	for i := 0; i < *n; i++ {
		a, b := rng.Uint64(), rng.Uint64()
		a = a&^(0xf<<12) | 0x4<<12 // version 4
		b = b&^(0x3<<62) | 0x2<<62 // variant
		id := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
		best := int64(rng.IntN(5000))
		t := now.Add(-time.Duration(rng.IntN(3600)) * time.Second).Format(time.RFC3339)
		w.WriteString(id + ",player " + strconv.Itoa(i) + "," + strconv.FormatInt(best/2, 10) + "," + strconv.FormatInt(best, 10) + "," + strconv.FormatInt(best*3, 10) + "," + t + "," + t + "\n")
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
