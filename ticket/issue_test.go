package ticket_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"crowdflow/ticket"
)

// testKey is a fixed key, so that the QR codes below are always the same.
func testKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i + 1)
	}
	return ed25519.NewKeyFromSeed(seed)
}

var issued = ticket.Ticket{Event: ticket.EventHash("ouarzazate-2025"), Type: ticket.NameHash("visitor"),
	Days: []string{"2025-09-18"}, Reentry: true}

// unreadableID is an id whose code, under testKey and issued, is valid but
// trips the standard detector's finder-pattern search (found by trying ids
// in order: about one code in 150 does).
const unreadableID = "0000000056"

func TestReadable(t *testing.T) {
	key := testKey()
	for name, tc := range map[string]struct {
		id   string
		want bool
	}{
		"an ordinary code":  {"0000000055", true},
		"a code that trips": {unreadableID, false},
		"another ordinary":  {"0000000057", true},
	} {
		t.Run(name, func(t *testing.T) {
			tk := issued
			copy(tk.ID[:], tc.id)
			payload, err := ticket.Sign(&tk, key)
			if err != nil {
				t.Fatal(err)
			}
			img, err := ticket.PNG(payload)
			if err != nil {
				t.Fatal(err)
			}
			if got := ticket.Readable(img, payload); got != tc.want {
				t.Errorf("Readable = %v, want %v", got, tc.want)
			}
			if ticket.Readable(img, payload+"X") {
				t.Error("Readable with another payload")
			}
		})
	}
}

// TestIssueRedraws gives Issue an unreadable id first: it must draw the next.
func TestIssueRedraws(t *testing.T) {
	key := testKey()
	ids := bytes.NewReader([]byte(unreadableID + "0000000057"))
	tk, payload, img, err := ticket.Issue(ids, issued, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(tk.ID[:]); got != "0000000057" {
		t.Errorf("issued id %q, want the second draw", got)
	}
	if !ticket.Readable(img, payload) {
		t.Error("issued an unreadable code")
	}
	got, err := ticket.Verify(payload, key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tk.ID || got.Type != issued.Type || got.Event != issued.Event || !got.Reentry || got.Days[0] != issued.Days[0] {
		t.Errorf("issued %+v, asked for %+v", got, issued)
	}

	onlyBad := bytes.NewReader(bytes.Repeat([]byte(unreadableID), 10))
	if _, _, _, err := ticket.Issue(onlyBad, issued, key); !errors.Is(err, ticket.ErrUnreadable) {
		t.Errorf("ten unreadable draws: got %v, want ErrUnreadable", err)
	}
}
