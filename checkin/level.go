package checkin

// Level is how full a zone is (DESIGN "Capacity and safety").
type Level string

// The levels: ok below 80 %, warn from 80 %, critical from 90 %, full at 100 %.
const (
	LevelOK       Level = "ok"
	LevelWarn     Level = "warn"
	LevelCritical Level = "critical"
	LevelFull     Level = "full"
)

// LevelOf is the level of a zone holding occupancy people of capacity. It
// compares in integers (occupancy×10 against capacity×8), so 80 % of a
// capacity of 485 is warn from 388 people, as a person would count it.
func LevelOf(occupancy, capacity int) Level {
	switch {
	case capacity <= 0:
		return LevelOK
	case occupancy >= capacity:
		return LevelFull
	case occupancy*10 >= capacity*9:
		return LevelCritical
	case occupancy*10 >= capacity*8:
		return LevelWarn
	}
	return LevelOK
}
