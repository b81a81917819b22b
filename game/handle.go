package game

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxHandleLen is the longest handle allowed, in characters (runes after NFC).
const MaxHandleLen = 24

// maxMarksPerLetter caps combining marks after one letter, so that accents work in
// every script but "zalgo" stacks cannot spill over neighbouring rows on the page.
const maxMarksPerLetter = 3

// maxHandleInput bounds the work done on a hostile input before it is refused.
const maxHandleInput = 4 * MaxHandleLen * utf8.UTFMax

// ErrInvalidHandle matches (with errors.Is) every error NormalizeHandle returns, so
// callers can tell a bad handle, the client's fault, from other failures.
var ErrInvalidHandle = errors.New("invalid handle")

// HandleError says why a handle was refused, in words a player understands.
type HandleError struct {
	// Reason is the sentence shown to the player.
	Reason string
}

// Error returns the reason.
func (e *HandleError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrInvalidHandle) true for every HandleError.
func (e *HandleError) Is(target error) bool { return target == ErrInvalidHandle }

// NormalizeHandle trims raw, folds runs of spaces into one, normalises it to Unicode NFC
// and checks the handle rules. It returns the handle to store, or a *HandleError.
func NormalizeHandle(raw string) (string, error) {
	if plainHandle(raw) {
		return raw, nil
	}
	return normalizeHandleFull(raw)
}

// normalizeHandleFull is NormalizeHandle without the shortcut for plain handles.
func normalizeHandleFull(raw string) (string, error) {
	if len(raw) > maxHandleInput {
		return "", invalid("handle must be at most %d characters", MaxHandleLen)
	}
	if !utf8.ValidString(raw) {
		return "", invalid("handle is not valid UTF-8")
	}
	h := norm.NFC.String(strings.Join(strings.FieldsFunc(raw, isFoldedSpace), " "))
	if h == "" {
		return "", invalid("handle must not be empty")
	}
	if n := utf8.RuneCountInString(h); n > MaxHandleLen {
		return "", invalid("handle must be at most %d characters (got %d)", MaxHandleLen, n)
	}
	marks := 0
	for i, r := range h {
		switch {
		case unicode.IsLetter(r):
			marks = 0
		case unicode.IsDigit(r):
			marks = -1 // combining marks are allowed after a letter only
		case unicode.Is(unicode.M, r):
			if i == 0 || marks < 0 {
				return "", invalid("handle may only have a combining mark right after a letter")
			}
			marks++
			if marks > maxMarksPerLetter {
				return "", invalid("handle has too many combining marks on one letter")
			}
			continue
		case r == ' ' || r == '_' || r == '-' || r == '.':
			if i == 0 {
				return "", invalid("handle must start with a letter or digit")
			}
			marks = -1 // a mark may not follow punctuation either
			continue
		default:
			return "", invalid("handle may only contain letters, digits, spaces, '_', '-' and '.' (found %q)", r)
		}
	}
	return h, nil
}

// plainHandle reports, cheaply, that raw is a valid handle in normal form: at most
// MaxHandleLen ASCII letters, digits, single inner spaces, '_', '-' and '.', starting
// with a letter or digit and not ending in a space. Every handle it accepts passes the
// full check unchanged (a test holds it to that); it refuses many that do too.
func plainHandle(raw string) bool {
	if len(raw) == 0 || len(raw) > MaxHandleLen || raw[len(raw)-1] == ' ' {
		return false
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
		case i == 0:
			return false
		case c == ' ':
			if raw[i-1] == ' ' {
				return false
			}
		case c == '_' || c == '-' || c == '.':
		default:
			return false
		}
	}
	return true
}

// isFoldedSpace is true for the plain space only: other white space (tabs, newlines,
// exotic Unicode spaces) is refused rather than silently turned into a space.
func isFoldedSpace(r rune) bool { return r == ' ' }

func invalid(format string, args ...any) error {
	return &HandleError{Reason: fmt.Sprintf(format, args...)}
}
