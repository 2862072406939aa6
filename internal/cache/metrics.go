package cache

import "github.com/prometheus/client_golang/prometheus"

// Named is what Collector reads: any Cache.
type Named interface {
	Name() string
	Stats() Stats
}

// Collector exports the caches' counters, labelled by cache name:
// pingauth_cache_{hits,misses,loads,load_errors,evictions}_total and
// pingauth_cache_entries. Values are read at scrape time.
func Collector(caches ...Named) prometheus.Collector { return &collector{caches: caches} }

type collector struct{ caches []Named }

var (
	descHits      = prometheus.NewDesc("pingauth_cache_hits_total", "Cache lookups served from memory.", []string{"cache"}, nil)
	descMisses    = prometheus.NewDesc("pingauth_cache_misses_total", "Cache lookups that found no fresh entry.", []string{"cache"}, nil)
	descLoads     = prometheus.NewDesc("pingauth_cache_loads_total", "Loads run on misses (concurrent misses of a key share one).", []string{"cache"}, nil)
	descLoadErrs  = prometheus.NewDesc("pingauth_cache_load_errors_total", "Loads that failed (nothing was cached).", []string{"cache"}, nil)
	descEvictions = prometheus.NewDesc("pingauth_cache_evictions_total", "Least recently used entries evicted because the cache was full.", []string{"cache"}, nil)
	descEntries   = prometheus.NewDesc("pingauth_cache_entries", "Entries held.", []string{"cache"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHits, descMisses, descLoads, descLoadErrs, descEvictions, descEntries} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, x := range c.caches {
		s, n := x.Stats(), x.Name()
		ch <- prometheus.MustNewConstMetric(descHits, prometheus.CounterValue, float64(s.Hits), n)
		ch <- prometheus.MustNewConstMetric(descMisses, prometheus.CounterValue, float64(s.Misses), n)
		ch <- prometheus.MustNewConstMetric(descLoads, prometheus.CounterValue, float64(s.Loads), n)
		ch <- prometheus.MustNewConstMetric(descLoadErrs, prometheus.CounterValue, float64(s.LoadErrors), n)
		ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(s.Evictions), n)
		ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(s.Entries), n)
	}
}
