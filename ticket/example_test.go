package ticket_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"

	"crowdflow/ticket"
)

// A ticket for two fair days and two halls, signed with the event key and
// verified at the gate with the public key.
func ExampleSign() {
	// In production the key comes from ticket.LoadPrivateKey and the id
	// from ticket.NewID(nil); fixed here so the output is stable.
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	zones := []uint16{ticket.NameHash("hall-crafts"), ticket.NameHash("hall-food")}
	slices.Sort(zones)
	t := &ticket.Ticket{
		Event: ticket.EventHash("ouarzazate-2025"),
		ID:    ticket.ID{0x5a, 0x17, 0xc0, 0xde, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06},
		Type:  ticket.NameHash("visitor"),
		Days:  []string{"2025-09-17", "2025-09-18"},
		Zones: zones,
	}
	payload, err := ticket.Sign(t, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(payload[:4], len(payload), "characters")

	got, err := ticket.Verify(payload, key.Public().(ed25519.PublicKey))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.ID, got.Days, got.Type == ticket.NameHash("visitor"), got.Reentry)

	// Another event's key does not verify it.
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 1
	other := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	_, err = ticket.Verify(payload, other)
	fmt.Println(errors.Is(err, ticket.ErrSignature))
	// Output:
	// CF1: 152 characters
	// lil4bxqbaibqibig [2025-09-17 2025-09-18] true false
	// true
}

// A keyboard-wedge reader typed the ticket in lower case, with Enter.
func ExampleNormalize() {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	payload, _ := ticket.Sign(&ticket.Ticket{}, key)

	typed := strings.ToLower(payload) + "\r\n"
	fmt.Println(ticket.Layout(typed))
	got, err := ticket.Normalize(typed)
	fmt.Println(got == payload, err)
	// Output:
	// us
	// true <nil>
}
