package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
)

const (
	// cookieName is the session cookie.
	cookieName = "ctb_session"
	// cookieVersion prefixes the signed payload, so the format can change later.
	cookieVersion = 1
	// maxCookieLen bounds the work spent on a hostile cookie.
	maxCookieLen = 512
	// cookieMaxAge keeps a player recognised for a year.
	cookieMaxAge = 365 * 24 * time.Hour
	// secretFile holds the generated key in the data folder.
	secretFile = "secret.key"
	// tagLen is the length of a public tag.
	tagLen = 8
)

var cookieEncoding = base64.RawURLEncoding.Strict()

const cookieAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

var tagEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// identity signs and checks session cookies and derives public tags. Separate keys
// are derived for each use, so a tag can never serve as a signature.
type identity struct {
	cookieKey []byte
	tagKey    []byte
}

func newIdentity(secret []byte) identity {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	return identity{cookieKey: derive("ctb cookie v1"), tagKey: derive("ctb tag v1")}
}

// tag returns the public tag of a player: stable, short, and no help in guessing the id.
func (i identity) tag(id uuid.UUID) string {
	m := hmac.New(sha256.New, i.tagKey)
	m.Write(id[:])
	return tagEncoding.EncodeToString(m.Sum(nil))[:tagLen]
}

func (i identity) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, i.cookieKey)
	m.Write(payload)
	return m.Sum(nil)
}

// encode returns the cookie value for a player: version, id and handle, then a MAC.
func (i identity) encode(id uuid.UUID, handle string) string {
	payload := make([]byte, 0, 1+len(id)+len(handle))
	payload = append(payload, cookieVersion)
	payload = append(payload, id[:]...)
	payload = append(payload, handle...)
	return cookieEncoding.EncodeToString(payload) + "." + cookieEncoding.EncodeToString(i.mac(payload))
}

var errNoIdentity = errors.New("no valid session cookie")

// decode checks a cookie value and returns what it holds. Any defect, a foreign key
// included, gives errNoIdentity: a bad cookie is the same as none.
func (i identity) decode(value string) (uuid.UUID, string, error) {
	// Only the canonical form is accepted: the base64 decoder would skip CR and LF and
	// tolerate stray trailing bits, which would give one identity many spellings.
	if len(value) > maxCookieLen || strings.Trim(value, cookieAlphabet) != "" {
		return uuid.Nil, "", errNoIdentity
	}
	p, s, ok := strings.Cut(value, ".")
	if !ok {
		return uuid.Nil, "", errNoIdentity
	}
	payload, err1 := cookieEncoding.DecodeString(p)
	sig, err2 := cookieEncoding.DecodeString(s)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, i.mac(payload)) {
		return uuid.Nil, "", errNoIdentity
	}
	if len(payload) < 1+16 || payload[0] != cookieVersion {
		return uuid.Nil, "", errNoIdentity
	}
	id, _ := uuid.FromBytes(payload[1:17])
	return id, string(payload[17:]), nil
}

// fromRequest returns the identity in r's session cookie.
func (i identity) fromRequest(r *http.Request) (uuid.UUID, string, error) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return uuid.Nil, "", errNoIdentity
	}
	return i.decode(c.Value)
}

func (i identity) cookie(id uuid.UUID, handle, path string, secure bool) *http.Cookie {
	return &http.Cookie{
		Name:     cookieName,
		Value:    i.encode(id, handle),
		Path:     path,
		MaxAge:   int(cookieMaxAge / time.Second),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// SecretFile is the name of the generated signing key in the data folder.
const SecretFile = secretFile

// LoadSecret returns the signing key: fromEnv when it is set (CTB_SECRET), otherwise the
// key in dataDir/secret.key, which is created with 32 random bytes and mode 0600 on
// first use.
func LoadSecret(fromEnv, dataDir string) ([]byte, error) {
	if fromEnv != "" {
		if len(fromEnv) < 16 {
			return nil, fmt.Errorf("CTB_SECRET must be at least 16 characters")
		}
		return []byte(fromEnv), nil
	}
	key, err := ReadSecretFile(dataDir)
	if err != nil || key != nil {
		return key, err
	}
	key = make([]byte, 32)
	rand.Read(key)
	return key, WriteSecretFile(dataDir, key)
}

// ReadSecretFile returns the key in dir/secret.key, or nil when there is none.
func ReadSecretFile(dir string) ([]byte, error) {
	path := filepath.Join(dir, secretFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("%s: not a hex key of at least 16 bytes; delete it to make a new one (this logs every player out)", path)
	}
	return key, nil
}

// WriteSecretFile stores key as dir/secret.key with mode 0600. It never replaces an
// existing file: that would log every player out.
func WriteSecretFile(dir string, key []byte) error {
	path := filepath.Join(dir, secretFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}
