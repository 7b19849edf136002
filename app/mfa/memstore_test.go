package mfa

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// memStore is an in-memory Store; one mutex makes every method atomic, which
// is the guarantee the SQL store gives with single statements.
type memStore struct {
	mu         sync.Mutex
	totp       map[uuid.UUID]TOTPRecord
	recovery   map[uuid.UUID]RecoveryCodeSet
	used       map[uuid.UUID]map[int]bool // set ID -> used code index
	creds      map[string]WebAuthnCredential
	ceremonies map[string]WebAuthnCeremony
}

func newMemStore() *memStore {
	return &memStore{
		totp: map[uuid.UUID]TOTPRecord{}, recovery: map[uuid.UUID]RecoveryCodeSet{},
		used: map[uuid.UUID]map[int]bool{}, creds: map[string]WebAuthnCredential{},
		ceremonies: map[string]WebAuthnCeremony{},
	}
}

var _ Store = (*memStore)(nil)

func (m *memStore) SavePendingTOTP(_ context.Context, rec TOTPRecord) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.totp[rec.UserID]; ok && cur.Confirmed {
		return false, nil
	}
	rec.Confirmed = false
	m.totp[rec.UserID] = rec
	return true, nil
}

func (m *memStore) TOTP(_ context.Context, userID uuid.UUID) (TOTPRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.totp[userID]
	r.SealedSeed = bytes.Clone(r.SealedSeed)
	return r, ok, nil
}

func (m *memStore) ConfirmTOTP(_ context.Context, userID, id uuid.UUID, step int64, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.totp[userID]
	if !ok || r.ID != id || r.Confirmed || r.LastStep >= step {
		return false, nil
	}
	r.Confirmed, r.ConfirmedAt, r.LastStep = true, at, step
	m.totp[userID] = r
	return true, nil
}

func (m *memStore) AdvanceTOTPStep(_ context.Context, userID, id uuid.UUID, step int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.totp[userID]
	if !ok || r.ID != id || !r.Confirmed || r.LastStep >= step {
		return false, nil
	}
	r.LastStep = step
	m.totp[userID] = r
	return true, nil
}

func (m *memStore) ReplaceTOTPSeed(_ context.Context, userID, id uuid.UUID, old, new []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.totp[userID]
	if !ok || r.ID != id || !bytes.Equal(r.SealedSeed, old) {
		return false, nil
	}
	r.SealedSeed = bytes.Clone(new)
	m.totp[userID] = r
	return true, nil
}

func (m *memStore) DeleteTOTP(_ context.Context, userID uuid.UUID) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.totp[userID]
	delete(m.totp, userID)
	return ok, nil
}

func (m *memStore) ReplaceRecoveryCodes(_ context.Context, set RecoveryCodeSet) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.recovery[set.UserID]; ok {
		delete(m.used, old.ID)
	}
	m.recovery[set.UserID] = set
	m.used[set.ID] = map[int]bool{}
	return nil
}

func (m *memStore) RecoveryCodes(_ context.Context, userID uuid.UUID) (RecoveryCodeSet, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.recovery[userID]
	if ok {
		s.Remaining = len(s.Hashes) - len(m.used[s.ID])
	}
	return s, ok, nil
}

func (m *memStore) ConsumeRecoveryCode(_ context.Context, userID, setID uuid.UUID, hash []byte, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.recovery[userID]
	if !ok || s.ID != setID {
		return false, nil
	}
	for i, h := range s.Hashes {
		if bytes.Equal(h, hash) && !m.used[s.ID][i] {
			m.used[s.ID][i] = true
			return true, nil
		}
	}
	return false, nil
}

func (m *memStore) DeleteRecoveryCodes(_ context.Context, userID uuid.UUID) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.recovery[userID]
	delete(m.recovery, userID)
	delete(m.used, s.ID)
	return ok, nil
}

func (m *memStore) AddWebAuthnCredential(_ context.Context, c WebAuthnCredential) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.creds[string(c.ID)]; ok {
		return false, nil
	}
	m.creds[string(c.ID)] = c
	return true, nil
}

func (m *memStore) WebAuthnCredentials(_ context.Context, userID uuid.UUID) ([]WebAuthnCredential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []WebAuthnCredential
	for _, c := range m.creds {
		if c.UserID == userID {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b WebAuthnCredential) int { return bytes.Compare(a.ID, b.ID) })
	return out, nil
}

func (m *memStore) WebAuthnCredential(_ context.Context, id []byte) (WebAuthnCredential, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[string(id)]
	return c, ok, nil
}

func (m *memStore) RecordWebAuthnUse(_ context.Context, u WebAuthnUse) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[string(u.CredentialID)]
	if !ok || c.UserID != u.UserID || c.CloneWarning {
		return false, nil
	}
	if !(u.SignCount > c.SignCount || (u.SignCount == 0 && c.SignCount == 0)) {
		return false, nil
	}
	c.SignCount, c.Flags, c.LastUsedAt = u.SignCount, u.Flags, u.At
	m.creds[string(u.CredentialID)] = c
	return true, nil
}

func (m *memStore) MarkWebAuthnClone(_ context.Context, userID uuid.UUID, id []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.creds[string(id)]; ok && c.UserID == userID {
		c.CloneWarning = true
		m.creds[string(id)] = c
	}
	return nil
}

func (m *memStore) DeleteWebAuthnCredential(_ context.Context, userID uuid.UUID, id []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[string(id)]
	if !ok || c.UserID != userID {
		return false, nil
	}
	delete(m.creds, string(id))
	return true, nil
}

func (m *memStore) SaveWebAuthnCeremony(_ context.Context, c WebAuthnCeremony) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ceremonies[c.ID] = c
	return nil
}

func (m *memStore) TakeWebAuthnCeremony(_ context.Context, id string) (WebAuthnCeremony, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.ceremonies[id]
	delete(m.ceremonies, id)
	return c, ok, nil
}

// keyring is a SeedKeys for tests.
type keyring struct {
	current int
	keys    map[int][]byte
}

func newKeyring() *keyring {
	k := &keyring{keys: map[int][]byte{}}
	k.add()
	return k
}

// add makes a new current version.
func (k *keyring) add() {
	k.current++
	key := bytes.Repeat([]byte{byte(k.current)}, 32)
	k.keys[k.current] = key
}

func (k *keyring) SeedKey() (int, []byte) { return k.current, k.keys[k.current] }

func (k *keyring) SeedKeyVersion(v int) ([]byte, bool) {
	key, ok := k.keys[v]
	return key, ok
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
