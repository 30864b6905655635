package embedded_test

import (
	"context"
	"strconv"
	"testing"

	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
)

// benchScript is the shape of a scan: count it, log it.
var benchScript = ledger.NewScript("bench", `
local n = redis.call('hincrby', KEYS[1], ARGV[1], 1)
redis.call('xadd', KEYS[2], '*', 'zone', ARGV[1], 'ticket', ARGV[2], 'n', n)
return n`)

func BenchmarkEval(b *testing.B) {
	benchmarks := map[string]struct{ dir bool }{
		"memory":       {false},
		"journal sync": {true},
	}
	for name, bm := range benchmarks {
		b.Run(name, func(b *testing.B) {
			opts := embedded.Options{}
			if bm.dir {
				opts.Dir = b.TempDir()
			}
			e := MustOpen(b, opts)
			keys := []string{"{fair}:count", "{fair}:log"}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := e.Eval(ctx, benchScript, keys, "hall-"+strconv.Itoa(i%6), "T"+strconv.Itoa(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
		// Many gates at once: with a journal, concurrent Evals share fsyncs.
		b.Run(name+" parallel", func(b *testing.B) {
			opts := embedded.Options{}
			if bm.dir {
				opts.Dir = b.TempDir()
			}
			e := MustOpen(b, opts)
			keys := []string{"{fair}:count", "{fair}:log"}
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				i := 0
				for pb.Next() {
					i++
					if _, err := e.Eval(ctx, benchScript, keys, "hall-"+strconv.Itoa(i%6), "T"+strconv.Itoa(i)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
