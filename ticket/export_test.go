package ticket

// Remembered is how many verified texts v holds, for the tests of its bound.
func (v *Verifier) Remembered() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.cur) + len(v.old)
}
