package fs

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Lookups in a listed directory run while the verifications they start
// write verified attributes into the listing: under -race, nothing reads
// an entry's attributes unlocked while a verification writes them.
func TestListingLookupsRaceVerifications(t *testing.T) {
	srv := newTestServer(t)
	const n = 2000
	for i := 0; i < n; i++ {
		if err := srv.PutObject("test", fmt.Sprintf("d/f%04d", i), []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	tf := newTestFS(t, srv, nil)
	dir, errno := tf.lookup("d")
	if errno != 0 {
		t.Fatal(errno)
	}
	tf.readdirPlus(dir)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				if out, errno := tf.lookupIn(dir, fmt.Sprintf("f%04d", i)); errno != 0 || out.Attr.Mode&fuse.S_IFREG == 0 {
					t.Errorf("lookup of f%03d: %v %o", i, errno, out.Attr.Mode)
				}
			}
		}(g)
	}
	wg.Wait()
}
