package osstest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
)

// These tests measure the network model. Their bounds are lower bounds
// (what the model must at least cost) and generous upper ones, so that a
// loaded machine, which only makes things slower, cannot fail them.

// singleConn returns an HTTP client that keeps its own connections.
func singleConn() *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil, MaxConnsPerHost: 1}}
}

// timedGet GETs a presigned URL with client and returns the time to the
// last byte; it fails the test unless the body is want.
func timedGet(t *testing.T, client *http.Client, url string, want []byte) time.Duration {
	t.Helper()
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		t.Error(err)
		return 0
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, want) {
		t.Errorf("GET: %d, %d bytes, %v", resp.StatusCode, len(got), err)
	}
	return took
}

func TestNetworkLatency(t *testing.T) {
	t.Parallel()
	// A wide jitter, so that some answers come well before the mean even
	// when a loaded machine adds its own delay to each.
	const latency, jitter = 100 * time.Millisecond, 80 * time.Millisecond
	srv := newTestServer(t, Options{Network: Network{Latency: latency, LatencyJitter: jitter}})
	srv.PutObject("test", "k", []byte("v"), nil)
	c := newClient(srv, clientOpt{httpClient: singleConn()})
	head := func() time.Duration {
		start := time.Now()
		if _, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")}); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	var took []time.Duration
	for range 30 {
		took = append(took, head())
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("latency %s ±%s: HEAD took %s (min) %s (median) %s (max)", latency, jitter, took[0], took[len(took)/2], took[len(took)-1])
	if took[0] < latency-jitter {
		t.Errorf("a HEAD took %s; want at least %s", took[0], latency-jitter)
	}
	if took[0] >= latency {
		t.Errorf("no HEAD of 30 took less than %s: no jitter", latency)
	}
	if med := took[len(took)/2]; med > latency+jitter+500*time.Millisecond {
		t.Errorf("median HEAD %s; want about %s", med, latency)
	}
	srv.SetNetwork(Network{})
	if srv.Network() != (Network{}) {
		t.Errorf("Network() = %+v after SetNetwork(Network{})", srv.Network())
	}
}

func TestNetworkBandwidth(t *testing.T) {
	t.Parallel()
	// 0.25 s per object at the rate; small objects, so that the CPU the
	// transfers take (under -race, on a loaded machine) does not hold four
	// parallel ones back as much as the rate does.
	const rate, size = 4 << 20, 1 << 20
	srv := newTestServer(t, Options{Network: Network{ConnBandwidth: rate}})
	data := randBytes(size, 1)
	srv.PutObject("test", "obj", data, nil)
	c := newClient(srv, clientOpt{})
	url := presignGet(t, c, "obj", time.Hour)
	minTime := time.Duration(float64(size) / rate * float64(time.Second) * 0.9)

	// One connection: the per-connection rate.
	d := timedGet(t, singleConn(), url, data)
	t.Logf("GET of %d MiB at %d MiB/s per connection: %s", size>>20, rate>>20, d)
	if d < minTime || d > 12*minTime {
		t.Errorf("GET of %d MiB at %d MiB/s per connection took %s; want about %s", size>>20, rate>>20, d, minTime)
	}
	// Uploads too.
	put, err := c.Presign(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("up")}, oss.PresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, put.URL, bytes.NewReader(data))
	start := time.Now()
	resp, err := singleConn().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT: %v %v", resp, err)
	}
	resp.Body.Close()
	d = time.Since(start)
	t.Logf("PUT of %d MiB at %d MiB/s per connection: %s", size>>20, rate>>20, d)
	if d < minTime || d > 12*minTime {
		t.Errorf("PUT of %d MiB at %d MiB/s per connection took %s; want about %s", size>>20, rate>>20, d, minTime)
	}

	// parallel GETs the object on n connections at once and returns the
	// time for all.
	parallel := func(n int) time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				timedGet(t, singleConn(), url, data)
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	// Four connections each get the per-connection rate...
	perConn := parallel(4)
	t.Logf("4 parallel GETs at %d MiB/s per connection: %s", rate>>20, perConn)
	if perConn < minTime || perConn > 12*minTime {
		t.Errorf("4 parallel GETs at %d MiB/s per connection took %s; want about %s, as one", rate>>20, perConn, minTime)
	}
	// ... while they share the server-wide rate: four take four times as
	// long (compared with the above, which a loaded machine slows alike).
	srv.SetNetwork(Network{Bandwidth: rate})
	shared := parallel(4)
	t.Logf("4 parallel GETs at %d MiB/s for the server: %s", rate>>20, shared)
	if shared < 4*minTime || shared > 16*minTime {
		t.Errorf("4 parallel GETs at %d MiB/s for the server took %s; want about %s", rate>>20, shared, 4*minTime)
	}
	if 2*perConn > shared {
		t.Errorf("4 parallel GETs took %s at %d MiB/s per connection and %s at %d MiB/s for the server; want the first at most half the second",
			perConn, rate>>20, shared, rate>>20)
	}
}

func TestNetworkQPS(t *testing.T) {
	t.Parallel()
	const qps = 20
	srv := newTestServer(t, Options{Network: Network{QPS: qps}})
	srv.PutObject("test", "k", []byte("v"), nil)
	// One attempt per request: the SDK would retry a 503.
	c := oss.NewClient(oss.LoadDefaultConfig().WithRegion(testRegion).WithEndpoint(srv.URL()).WithRetryMaxAttempts(1).
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testAK, testSK, "")))

	var mu sync.Mutex
	var ok, throttled int
	var other []string
	start := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 1500*time.Millisecond {
				_, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")})
				var se *oss.ServiceError
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case errors.As(err, &se) && se.StatusCode == 503 && se.Code == "TotalQpsLimitExceeded" &&
					strings.Contains(se.Message, "qps limit"):
					throttled++
				default:
					other = append(other, err.Error())
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond) // some 800 requests a second: plenty
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d accepted, %d throttled in %s at --qps %d", ok, throttled, elapsed.Round(time.Millisecond), qps)
	if len(other) > 0 {
		t.Errorf("unexpected errors: %v", other[:min(len(other), 3)])
	}
	// At most qps in any second: the run spans at most ceil(elapsed)+1
	// windows of one second, and at least the first is filled.
	if most := qps * (int(elapsed/time.Second) + 1); ok > most || ok < qps {
		t.Errorf("%d requests accepted in %s; want between %d and %d", ok, elapsed, qps, most)
	}
	if throttled == 0 {
		t.Errorf("no request throttled")
	}
	srv.SetNetwork(Network{})
	if _, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")}); err != nil {
		t.Errorf("without a QPS limit: %v", err)
	}
}
