package redisengine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"crowdflow/checkin"
	"crowdflow/internal/redistest"
	"crowdflow/ledger"
	"crowdflow/ledger/redisengine"
	"crowdflow/ledger/storetest"
)

// TestCluster runs the store suite on a Redis Cluster of three primaries
// with one replica each, emptied before each subtest; then checks where the
// keys of several events went.
func TestCluster(t *testing.T) {
	c := redistest.StartCluster(t, redistest.ClusterOptions{Primaries: 3, Replicas: 1})
	dial := func(t *testing.T) *redisengine.Engine {
		t.Helper()
		eng, err := redisengine.Dial(t.Context(), redisengine.Options{URL: c.URL(), Cluster: true}, discard)
		if err != nil {
			t.Fatalf("dial cluster: %v", err)
		}
		t.Cleanup(func() { _ = eng.Close() })
		return eng
	}
	storetest.Run(t, func(t *testing.T) ledger.Engine {
		t.Helper()
		eng := dial(t)
		cl := eng.Client().(*redis.ClusterClient)
		if err := cl.ForEachMaster(t.Context(), func(ctx context.Context, n *redis.Client) error {
			return n.FlushAll(ctx).Err()
		}); err != nil {
			t.Fatalf("flushall: %v", err)
		}
		return eng
	})
	t.Run("OneSlotPerEvent", func(t *testing.T) { testOneSlotPerEvent(t, dial(t)) })
}

// testOneSlotPerEvent scans, tallies, revokes and closes a day for six
// events, then lists
// every key on every primary: each key names one event's hash tag {event},
// all keys of an event sit in its one slot on one node, and the events are
// spread over more than one primary.
func testOneSlotPerEvent(t *testing.T, eng *redisengine.Engine) {
	ctx := t.Context()
	cl := eng.Client().(*redis.ClusterClient)
	if err := cl.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		return n.FlushAll(ctx).Err()
	}); err != nil {
		t.Fatal(err)
	}
	events := []string{"ouarzazate-2025", "ouarzazate-2026", "rabat-2026", "fes-2026", "agadir-2026", "tanger-2026"}
	at := time.Date(2025, 9, 17, 10, 0, 0, 0, time.UTC)
	for _, ev := range events {
		st, err := ledger.New(ledger.Config{Event: ev, Location: time.UTC,
			Zones: []ledger.Zone{{ID: "site", Capacity: 10}, {ID: "hall", Parent: "site", Capacity: 5}},
			Days:  []ledger.Day{{Date: "2025-09-17", Close: at.Add(12 * time.Hour)}}}, eng)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Scan(ctx, ledger.Scan{ID: ev + "-s1", Gate: "g", Zone: "hall", Direction: checkin.In,
			Ticket: "t1", Type: "visitor", Precheck: checkin.Accepted, At: at}); err != nil {
			t.Fatalf("scan on %s: %v", ev, err)
		}
		if _, err := st.Tally(ctx, ledger.Tally{ID: ev + "-t1", Zone: "site", Delta: 2, At: at}); err != nil {
			t.Fatalf("tally on %s: %v", ev, err)
		}
		if _, err := st.Revoke(ctx, at, "test", "t9"); err != nil {
			t.Fatalf("revoke on %s: %v", ev, err)
		}
		if _, err := st.CloseDay(ctx, "2025-09-17", "test", time.Now()); err != nil {
			t.Fatalf("close day on %s: %v", ev, err)
		}
	}
	var mu sync.Mutex
	nodeOf := map[string]string{} // event -> the primary holding its keys
	slotOf := map[string]int64{}
	keys := 0
	err := cl.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		all, err := n.Keys(ctx, "*").Result()
		if err != nil {
			return err
		}
		for _, k := range all {
			slot, err := n.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			keys++
			ev := ""
			for _, e := range events {
				if strings.Contains(k, "{"+e+"}") {
					ev = e
				}
			}
			switch {
			case ev == "":
				t.Errorf("key %q on %s carries no event's hash tag", k, n.Options().Addr)
			case nodeOf[ev] != "" && (nodeOf[ev] != n.Options().Addr || slotOf[ev] != slot):
				t.Errorf("key %q of %s in slot %d on %s, other keys of it in slot %d on %s",
					k, ev, slot, n.Options().Addr, slotOf[ev], nodeOf[ev])
			default:
				nodeOf[ev], slotOf[ev] = n.Options().Addr, slot
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodeOf) != len(events) {
		t.Errorf("keys of %d events found, want %d", len(nodeOf), len(events))
	}
	nodes := map[string][]string{}
	for _, ev := range events {
		nodes[nodeOf[ev]] = append(nodes[nodeOf[ev]], fmt.Sprintf("%s (slot %d)", ev, slotOf[ev]))
	}
	if len(nodes) < 2 {
		t.Errorf("all %d events on one primary: %v", len(events), nodes)
	}
	t.Logf("%d keys; events per primary: %v", keys, nodes)
}
