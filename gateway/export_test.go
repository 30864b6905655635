package gateway

// HoldLiveSlots takes every /ws/live handshake slot, as that many clients
// being let in would; the returned function gives them back.
func (s *Server) HoldLiveSlots() (release func()) {
	for range cap(s.liveGate.slots) {
		s.liveGate.slots <- struct{}{}
	}
	return func() {
		for range cap(s.liveGate.slots) {
			<-s.liveGate.slots
		}
	}
}

// LiveWaiting is how many /ws/live clients wait for a handshake slot.
func (s *Server) LiveWaiting() int { return int(s.liveGate.waiting.Load()) }

// HoldScanning counts a scanner's frame as being handled until the
// returned function is called, as a scan in flight would.
func (s *Server) HoldScanning() (release func()) {
	s.scanning.Add(1)
	return func() { s.scanning.Add(-1) }
}

// FanOutThread and FanOutNice are the hub's thread and its niceness.
var FanOutThread = fanOutThread

const FanOutNice = fanOutNice
