package ossapi

// How a failed attempt is retried. The SDK's own retryer counts attempts
// only (five attempts ride out about 2 s of refused connections), and
// decides what to retry partly by the error's text: an error from the
// credentials provider quoting "connection refused" (the last renewal's
// failure) was retried as a network error although nothing would change.
// retryer replaces it, one per request:
//
//   - retryable failures (connection refused or reset, timeouts of ours,
//     5xx, 429, 408, RequestTimeTooSkewed) are retried with exponential
//     backoff and jitter until RetryWindow has passed since the request's
//     first attempt (a last attempt is made at the end of the window), so
//     a short outage or a server restart is ridden out, a longer one fails;
//   - RetryMax, when set, caps the attempts as well;
//   - an error of the credentials provider is never retried: it answers
//     from memory, and asking again at once gives the same answer;
//   - a canceled request is never retried (the SDK stops at once, its
//     backoff sleep included).

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"
)

// Backoff between attempts: the ceiling doubles from retryBase up to
// retryCap, and each delay is drawn in [ceiling/2, ceiling) (equal jitter:
// never bunched, never too eager).
const (
	retryBase = 200 * time.Millisecond
	retryCap  = 4 * time.Second
)

// errRetryWindow ends the retries of a request whose window has passed.
var errRetryWindow = errors.New("retry window exhausted")

// retryPolicy is the client's retry configuration.
type retryPolicy struct {
	window time.Duration // retry until this long after the first attempt
	max    int           // most attempts per request; 0: the window alone bounds them
}

// retryer is the SDK retryer of one request (retry.Retryer).
type retryer struct {
	policy retryPolicy
	start  time.Time
	std    *retry.Standard // the SDK's classification of service and network errors
}

var _ retry.Retryer = (*retryer)(nil)

func (p retryPolicy) newRetryer() *retryer {
	return &retryer{policy: p, start: time.Now(), std: retry.NewStandard()}
}

func (r *retryer) MaxAttempts() int {
	if r.policy.max > 0 {
		return r.policy.max
	}
	return math.MaxInt32
}

func (r *retryer) IsErrorRetryable(err error) bool {
	var ce *credentialsError
	if errors.As(err, &ce) {
		return false
	}
	var te *timeoutError
	if errors.As(err, &te) {
		return true
	}
	return r.std.IsErrorRetryable(err)
}

// RetryDelay is the wait before attempt number attempt (2 for the first
// retry), or an error when the request's window has passed.
func (r *retryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	left := r.policy.window - time.Since(r.start)
	if left <= 0 {
		return 0, errRetryWindow
	}
	return min(backoff(attempt), left), nil
}

// backoff is the jittered delay before attempt number attempt (>= 2).
func backoff(attempt int) time.Duration {
	ceil := retryCap
	if n := attempt - 2; n < 16 {
		ceil = min(retryBase<<n, retryCap)
	}
	half := ceil / 2
	return half + rand.N(half)
}

// credentialsError is an error of the credentials provider on its way
// through the SDK, marked so that it is never retried.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }
