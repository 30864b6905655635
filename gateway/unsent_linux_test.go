package gateway

import (
	"net"
	"testing"
	"time"
)

// TestUnsent: a socket whose peer reads has nothing unacknowledged; one
// whose peer stopped reading soon holds bytes that it has not acknowledged,
// which is how the live hub tells a client that is behind.
func TestUnsent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer peer.Close()
	_ = peer.(*net.TCPConn).SetReadBuffer(1024)

	msg := make([]byte, 1500)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Read(make([]byte, len(msg))); err != nil {
		t.Fatal(err)
	}
	// Loopback acknowledges what the peer's buffer takes: nothing pending.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, known := unsent(c)
		if !known {
			t.Fatal("unsent cannot tell on a TCP socket")
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes unacknowledged after the peer read everything", n)
		}
	}
	// The peer stops reading: once its window is full, what is written
	// stays unacknowledged.
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("write: %v; want the peer's full window to show as unacknowledged bytes first", err)
		}
		if n, _ := unsent(c); n > 0 {
			break
		}
	}
	if _, known := unsent(&net.UnixConn{}); known {
		t.Error("unsent told something of a socket that is not open")
	}
}
