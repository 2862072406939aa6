package boundcache_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/pingstreams/pingauth/internal/boundcache"
)

func TestBoundedAndKeepsHotEntries(t *testing.T) {
	t.Parallel()
	c := boundcache.New[int](100)
	for i := 0; i < 100; i++ {
		c.PutIfGen(fmt.Sprint(i), i, c.Gen())
	}
	for i := 0; i < 10; i++ { // the hot set
		c.Get(fmt.Sprint(i))
	}
	for i := 100; i < 150; i++ {
		c.PutIfGen(fmt.Sprint(i), i, c.Gen())
		for j := 0; j < 10; j++ {
			c.Get(fmt.Sprint(j))
		}
	}
	if n := c.Len(); n != 100 {
		t.Fatalf("len %d, want the bound 100", n)
	}
	for j := 0; j < 10; j++ {
		if v, ok := c.Get(fmt.Sprint(j)); !ok || v != j {
			t.Fatalf("hot entry %d evicted", j)
		}
	}
}

func TestGenerationRefusesStaleLoads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		invalidate func(c *boundcache.Map[string])
	}{
		{"delete of another key", func(c *boundcache.Map[string]) { c.Delete("other") }},
		{"clear", func(c *boundcache.Map[string]) { c.Clear() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := boundcache.New[string](10)
			gen := c.Gen() // a loader reads the database here...
			tc.invalidate(c)
			if c.PutIfGen("k", "stale", gen) {
				t.Fatal("stored a value read before an invalidation")
			}
			if _, ok := c.Get("k"); ok {
				t.Fatal("stale value cached")
			}
			if !c.PutIfGen("k", "fresh", c.Gen()) {
				t.Fatal("fresh load refused")
			}
		})
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	c := boundcache.New[int](50)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				k := fmt.Sprint((g*7919 + i) % 200)
				if _, ok := c.Get(k); !ok {
					c.PutIfGen(k, i, c.Gen())
				}
				if i%97 == 0 {
					c.Delete(k)
				}
			}
		}(g)
	}
	wg.Wait()
	if c.Len() > 50 {
		t.Fatalf("len %d over the bound", c.Len())
	}
}
