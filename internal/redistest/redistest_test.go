package redistest_test

import (
	"testing"

	"crowdflow/internal/redistest"
)

func TestKillRestart(t *testing.T) {
	s := redistest.Start(t, redistest.Options{AppendFsync: "always"})
	addr := s.Addr()
	s.Kill()
	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("restart moved the server: %s, was %s", s.Addr(), addr)
	}
}
