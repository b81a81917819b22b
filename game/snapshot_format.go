package game

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// The per-field encoders and decoders of the scores file. Each has a fast path for the
// form the writer produces and hands anything else to the standard library, so a file
// edited by hand or by a spreadsheet reads exactly as with strconv and time.Parse; the
// tests compare both paths.

// field is a CSV field as encoding/csv gives it (string) or as the fast reader slices
// it out of the file (bytes).
type field interface{ ~string | ~[]byte }

// timeEncoder formats times as time.RFC3339Nano does in UTC. It remembers the last
// second it formatted: a row's two times are often the same, and rows written in a row
// often share their second.
type timeEncoder struct {
	sec    int64
	prefix [19]byte // YYYY-MM-DDTHH:MM:SS of sec
	valid  bool
}

// maxTimeLen is the longest time putRFC3339Nano writes: nine digits of fraction.
const maxTimeLen = len("2006-01-02T15:04:05.999999999Z")

// putRFC3339Nano writes the time ns (Unix nanoseconds) in UTC at d[i:], which has
// room for maxTimeLen bytes, formatted as time.RFC3339Nano does (no fraction when it is
// 0, trailing zeros trimmed), and returns the index after it.
func (te *timeEncoder) putRFC3339Nano(d []byte, i int, ns int64) int {
	if ns < 0 {
		return i + copy(d[i:], time.Unix(0, ns).UTC().AppendFormat(d[i:i], time.RFC3339Nano))
	}
	secs, frac := ns/1e9, ns%1e9
	if !te.valid || secs != te.sec {
		days, rem := secs/86400, secs%86400
		y, m, day := civil(days)
		p := &te.prefix
		put2(p[0:], int(y/100))
		put2(p[2:], int(y%100))
		p[4] = '-'
		put2(p[5:], int(m))
		p[7] = '-'
		put2(p[8:], int(day))
		p[10] = 'T'
		put2(p[11:], int(rem/3600))
		p[13] = ':'
		put2(p[14:], int(rem/60%60))
		p[16] = ':'
		put2(p[17:], int(rem%60))
		te.sec, te.valid = secs, true
	}
	*(*[19]byte)(d[i:]) = te.prefix
	i += len(te.prefix)
	if frac != 0 {
		// Nine digits: the first alone, then four pairs; then the zeros trimmed.
		f := d[i : i+10]
		f[0] = '.'
		f[1] = byte('0' + frac/1e8)
		r := int(frac % 1e8)
		put2(f[2:], r/1e6)
		put2(f[4:], r/1e4%100)
		put2(f[6:], r/100%100)
		put2(f[8:], r%100)
		n := 10
		for f[n-1] == '0' {
			n--
		}
		i += n
	}
	d[i] = 'Z'
	return i + 1
}

// digitPairs holds "00" to "99", so a number is written two digits per division.
const digitPairs = "" +
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// put2 writes v (0 to 99) as two digits at d[0:2].
func put2(d []byte, v int) {
	d[0], d[1] = digitPairs[2*v], digitPairs[2*v+1]
}

// putInt writes v in decimal at d[i:], which has room for 20 bytes, and returns the
// index after it, as strconv.AppendInt(nil, v, 10) would.
func putInt(d []byte, i int, v int64) int {
	if v < 0 {
		return i + copy(d[i:], strconv.AppendInt(d[i:i], v, 10))
	}
	u := uint64(v)
	n := 1
	for x := u; x >= 10; x /= 10 {
		n++
	}
	j := i + n
	for u >= 100 {
		j -= 2
		put2(d[j:], int(u%100))
		u /= 100
	}
	if u >= 10 {
		put2(d[j-2:], int(u))
	} else {
		d[j-1] = byte('0' + u)
	}
	return i + n
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (days >= 0), by
// counting 400-year eras that start on March 1st, so leap days fall at an era's end.
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysFromCivil is the inverse of civil.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// parseTime reads an RFC 3339 time as time.Parse(time.RFC3339Nano, s) does.
func parseTime[S field](s S) (time.Time, error) {
	if ns, ok := parseUTCFast(s); ok {
		return time.Unix(0, ns).UTC(), nil
	}
	return time.Parse(time.RFC3339Nano, string(s))
}

// parseUTCFast reads the form putRFC3339Nano writes, YYYY-MM-DDTHH:MM:SS[.f]Z with
// 1 to 9 digits of fraction and a year from 1970 to 2261, as Unix nanoseconds. It
// refuses (ok false) anything else, valid or not, for time.Parse to decide.
func parseUTCFast[S field](s S) (ns int64, ok bool) {
	n := len(s)
	if n < 20 || n > 30 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[n-1] != 'Z' {
		return 0, false
	}
	num := func(i, j int) int64 {
		v := int64(0)
		for ; i < j; i++ {
			c := s[i] - '0'
			if c > 9 {
				return -1
			}
			v = v*10 + int64(c)
		}
		return v
	}
	y, mo, d, h, mi, sec := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	if y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > int64(daysIn(mo, y)) ||
		h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
		return 0, false
	}
	frac := int64(0)
	if n > 20 {
		if s[19] != '.' || n == 21 {
			return 0, false
		}
		if frac = num(20, n-1); frac < 0 {
			return 0, false
		}
		for i := n - 1 - 20; i < 9; i++ {
			frac *= 10
		}
	}
	secs := daysFromCivil(y, mo, d)*86400 + h*3600 + mi*60 + sec
	return secs*1e9 + frac, true
}

func daysIn(m, y int64) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseCount reads a decimal number as strconv.ParseInt(s, 10, 64) does.
func parseCount[S field](s S) (int64, error) {
	if n := len(s); n > 0 && n <= 18 {
		v := int64(0)
		for i := 0; i < n; i++ {
			c := s[i] - '0'
			if c > 9 {
				return strconv.ParseInt(string(s), 10, 64)
			}
			v = v*10 + int64(c)
		}
		return v, nil
	}
	return strconv.ParseInt(string(s), 10, 64)
}

// parseID reads a UUID in its 36-character form, hex digits in either case, the only
// form the file holds.
func parseID[S field](s S) (uuid.UUID, bool) {
	var id uuid.UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
		}
		hi, lo := unhex(s[i]), unhex(s[i+1])
		if hi > 15 || lo > 15 {
			return id, false
		}
		id[j] = hi<<4 | lo
		i += 2
		j++
	}
	return id, true
}

func unhex(c byte) byte { return hexValues[c] }

// hexValues maps a byte to its value as a hex digit, 0xff when it is none.
const hexValues = "" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\xff\xff\xff\xff\xff\xff" +
	"\xff\x0a\x0b\x0c\x0d\x0e\x0f\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\x0a\x0b\x0c\x0d\x0e\x0f\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
