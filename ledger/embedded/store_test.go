package embedded_test

import (
	"testing"

	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
	"crowdflow/ledger/storetest"
)

// TestStore runs the store suite on a fresh in-memory engine per subtest: the
// embedded engine must decide, count and log exactly as Redis does.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ledger.Engine {
		t.Helper()
		e, err := embedded.Open(embedded.Options{})
		if err != nil {
			t.Fatalf("open embedded engine: %v", err)
		}
		t.Cleanup(func() { _ = e.Close() }) // the suite may have closed it already
		return e
	})
}
