package auth

import (
	"errors"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/password"
)

// lane is a bounded number of logins in flight; a full lane refuses at
// once instead of queueing, so a flood is shed before it costs Redis,
// database or hashing work, and never queues in front of anyone else.
type lane chan struct{}

func newLane(n int) lane {
	if n <= 0 {
		return nil // unbounded
	}
	return make(lane, n)
}

// tryEnter takes a place in the lane, or reports that it is full.
func (l lane) tryEnter() bool {
	if l == nil {
		return true
	}
	select {
	case l <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l lane) leave() {
	if l != nil {
		<-l
	}
}

// errLoginsBusy is a refused admission: the same 503 overloaded, with
// Retry-After, as a full hashing queue, whatever the email.
func errLoginsBusy() error {
	return &errs.Error{Kind: errs.KindUnavailable, Code: password.CodeOverloaded, Message: "the server is busy, try again shortly",
		RetryAfter: time.Second, Err: errors.New("auth: too many logins in flight")}
}

// admitLogin sorts a login into its lane: requests carrying a device token
// authentic for their account (devicetoken.go) into the device lane, every
// other into the open lane. It returns the function that leaves the lane,
// or errLoginsBusy.
func (s *Service) admitLogin(authenticDevice bool) (leave func(), err error) {
	l := s.openLogins
	if authenticDevice {
		l = s.deviceLogins
	}
	if !l.tryEnter() {
		return nil, errLoginsBusy()
	}
	return l.leave, nil
}
