package ossapi

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies an error for the layers above ossapi.
type Kind int

const (
	// KindOther is anything not covered below.
	KindOther Kind = iota
	// KindNotExist: no such key, bucket or upload (404).
	KindNotExist
	// KindExist: the key exists and overwrite was forbidden (409 FileAlreadyExists).
	KindExist
	// KindPrecondition: an If-Match or append position did not hold (412, 409
	// PositionNotEqualToLength): the object changed under us.
	KindPrecondition
	// KindPermission: access denied, bad keys, bad signature (403).
	KindPermission
	// KindExpired: the security token or credentials have expired.
	KindExpired
	// KindThrottled: slow down (429, 503 SlowDown) after retries.
	KindThrottled
	// KindTransient: network errors, timeouts, 5xx after retries.
	KindTransient
	// KindInvalid: the request was refused as malformed (400, 416...).
	KindInvalid
	// KindCanceled: the context was canceled.
	KindCanceled
)

var kindNames = [...]string{"Other", "NotExist", "Exist", "Precondition", "Permission", "Expired", "Throttled", "Transient", "Invalid", "Canceled"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is the error every ossapi method returns.
type Error struct {
	Op        string // operation, e.g. "GetObject"
	Key       string // object key, if any
	Kind      Kind
	Status    int    // HTTP status, 0 if no response
	Code      string // OSS error code, e.g. "NoSuchKey"
	Message   string // OSS message (never contains secrets)
	RequestID string
	Err       error // underlying error, if any
}

func (e *Error) Error() string {
	s := e.Op
	if e.Key != "" {
		s += " " + e.Key
	}
	s += ": " + e.Kind.String()
	if e.Code != "" {
		s += " (" + e.Code
		if e.Status != 0 {
			s += fmt.Sprintf(" %d", e.Status)
		}
		s += ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	} else if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.RequestID != "" {
		s += " [request " + e.RequestID + "]"
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// KindOf reports the Kind of err: the Kind of the first *Error in its chain,
// KindCanceled for context errors, KindOther otherwise (and for nil).
func KindOf(err error) Kind {
	if err == nil {
		return KindOther
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return KindCanceled
	}
	return KindOther
}

// IsNotExist reports whether err has KindNotExist.
func IsNotExist(err error) bool { return KindOf(err) == KindNotExist }

// CodeOf returns the OSS error code of err, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
