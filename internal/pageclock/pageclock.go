// Package pageclock sets the clock of a page in a test browser: the
// browser tests and the drills drive pages that judge tickets by the
// device's date, against gateways whose event clock is set to a day of the
// fair.
package pageclock

import (
	"fmt"
	"time"
)

// Script is JavaScript to run in a page before its own scripts (CDP's
// Page.addScriptToEvaluateOnNewDocument): the page's Date reads at now,
// and runs on from there.
func Script(at time.Time) string {
	shift := at.UnixMilli() - time.Now().UnixMilli()
	return fmt.Sprintf(`(() => {
  const shift = %d, Real = Date;
  function D(...a) {
    if (!new.target) return new Real(Real.now() + shift).toString();
    return a.length ? new Real(...a) : new Real(Real.now() + shift);
  }
  D.prototype = Real.prototype;
  D.now = () => Real.now() + shift;
  D.UTC = Real.UTC;
  D.parse = Real.parse;
  globalThis.Date = D;
})();`, shift)
}
