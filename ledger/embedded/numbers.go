package embedded

import (
	"math"
	"strconv"
	"strings"
)

// string2ll parses a signed 64-bit integer exactly as Redis' string2ll does:
// no spaces, no '+', no leading zeros, no "-0", at most 20 characters. Redis
// uses it for integer arguments and for the values INCR and HINCRBY change.
func string2ll(s string) (int64, bool) {
	const longStrSize = 21
	if len(s) == 0 || len(s) >= longStrSize {
		return 0, false
	}
	if s == "0" {
		return 0, true
	}
	p := s
	negative := false
	if p[0] == '-' {
		negative = true
		p = p[1:]
		if len(p) == 0 {
			return 0, false
		}
	}
	if p[0] < '1' || p[0] > '9' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > math.MaxUint64/10 {
			return 0, false
		}
		v *= 10
		d := uint64(c - '0')
		if v > math.MaxUint64-d {
			return 0, false
		}
		v += d
	}
	if negative {
		if v > uint64(math.MaxInt64)+1 {
			return 0, false
		}
		return int64(-v), true //nolint:gosec // wraps on purpose: -(2^63) is MinInt64
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// string2ull parses an unsigned 64-bit integer as Redis' string2ull does
// for stream IDs: string2ll first, then C's strtoull, which is more lenient
// (leading spaces, a sign, leading zeros; a '-' wraps around).
func string2ull(s string) (uint64, bool) {
	if v, ok := string2ll(s); ok {
		if v < 0 {
			return 0, false
		}
		return uint64(v), true
	}
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	negative := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		negative = s[i] == '-'
		i++
	}
	start := i
	var v uint64
	overflow := false
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			overflow = true
		}
		v = v*10 + d
	}
	if i == start || i != len(s) || overflow {
		return 0, false
	}
	if negative {
		v = -v
	}
	return v, true
}

// isCSpace is C's isspace in the C locale.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// formatG formats f as C's printf("%.<prec>g") does, including glibc's
// spelling of infinities and NaNs. Redis passes Lua numbers to commands
// with %.17g; Lua 5.1 turns numbers into strings with %.14g.
func formatG(f float64, prec int) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', prec, 64)
}

// luaStr2d converts a string to a number as Lua 5.1's luaO_str2d does (for
// tonumber): C's strtod, which takes leading spaces, a sign, decimals with
// an exponent, hexadecimals, inf and nan; then only trailing spaces.
func luaStr2d(s string) (float64, bool) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i] // C stops at a NUL
	}
	v, end := strtod(s)
	if end == 0 {
		return 0, false
	}
	if end < len(s) && (s[end] == 'x' || s[end] == 'X') {
		var n uint64
		n, end = strtoul(s, 16)
		v = float64(n)
	}
	for end < len(s) && isCSpace(s[end]) {
		end++
	}
	return v, end == len(s)
}

// strtod parses the longest prefix of s that C's strtod accepts and returns
// its value and length; 0 when there is none.
func strtod(s string) (float64, int) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	start := i
	negative := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		negative = s[i] == '-'
		i++
	}
	sign := func(f float64) float64 {
		if negative {
			return -f
		}
		return f
	}
	rest := strings.ToLower(s[i:])
	switch {
	case strings.HasPrefix(rest, "infinity"):
		return sign(math.Inf(1)), i + 8
	case strings.HasPrefix(rest, "inf"):
		return sign(math.Inf(1)), i + 3
	case strings.HasPrefix(rest, "nan"):
		end := i + 3
		if j := strings.IndexByte(s[end:], ')'); end < len(s) && s[end] == '(' && j > 0 {
			inner := s[end+1 : end+j]
			if strings.IndexFunc(inner, func(r rune) bool {
				return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
			}) < 0 {
				end += j + 1
			}
		}
		return math.Copysign(math.NaN(), sign(1)), end
	case len(rest) > 2 && rest[0] == '0' && rest[1] == 'x' && isHexDigitOrDot(rest[2:]):
		j := i + 2
		mant, digits := j, 0
		for j < len(s) && isHexDigit(s[j]) {
			j, digits = j+1, digits+1
		}
		if j < len(s) && s[j] == '.' {
			j++
			for j < len(s) && isHexDigit(s[j]) {
				j, digits = j+1, digits+1
			}
		}
		if digits == 0 {
			return 0, i + 1 // just the "0"
		}
		mantissa, exp := s[mant:j], "0"
		if k := exponentEnd(s, j, 'p'); k > j {
			exp, j = s[j+1:k], k
		}
		v, _ := strconv.ParseFloat("0x"+mantissa+"p"+exp, 64)
		return sign(v), j
	}
	j, digits := i, 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j, digits = j+1, digits+1
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j, digits = j+1, digits+1
		}
	}
	if digits == 0 {
		return 0, 0
	}
	j = max(j, exponentEnd(s, j, 'e'))
	v, _ := strconv.ParseFloat(s[start:j], 64) // out of range: ±Inf or 0, as strtod
	return v, j
}

// exponentEnd returns the end of an exponent (marker, optional sign,
// digits) that starts at i, or i when there is none.
func exponentEnd(s string, i int, marker byte) int {
	if i >= len(s) || (s[i]|0x20) != marker {
		return i
	}
	j := i + 1
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k == j {
		return i
	}
	return k
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isHexDigitOrDot(s string) bool {
	return isHexDigit(s[0]) || (s[0] == '.' && len(s) > 1 && isHexDigit(s[1]))
}

// strtoul parses as C's strtoul(s, &end, base) does and returns the value
// and the length parsed (0 for none). Overflow gives the maximum.
func strtoul(s string, base int) (uint64, int) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	negative := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		negative = s[i] == '-'
		i++
	}
	if base == 16 && i+2 < len(s) && s[i] == '0' && (s[i+1]|0x20) == 'x' && isHexDigit(s[i+2]) {
		i += 2
	}
	start := i
	var v uint64
	overflow := false
	for ; i < len(s); i++ {
		d := digitValue(s[i])
		if d < 0 || d >= base {
			break
		}
		if v > (math.MaxUint64-uint64(d))/uint64(base) {
			overflow = true
		}
		v = v*uint64(base) + uint64(d)
	}
	if i == start {
		return 0, 0
	}
	if overflow {
		return math.MaxUint64, i
	}
	if negative {
		v = -v
	}
	return v, i
}

func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}
