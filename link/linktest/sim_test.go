package linktest_test

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/sqlink/sqlink/link/linktest"
)

var (
	flagSeeds = flag.Int("seeds", 1000, "number of random seeds TestSimulation runs")
	flagSeed  = flag.Int64("seed", -1, "replay only this seed")
	flagSteps = flag.Int("steps", 400, "random steps per seed")
)

func TestSimulation(t *testing.T) {
	seeds := make([]int64, 0, *flagSeeds)
	if *flagSeed >= 0 {
		seeds = append(seeds, *flagSeed)
	} else {
		for i := 0; i < *flagSeeds; i++ {
			seeds = append(seeds, int64(i))
		}
	}
	start := time.Now()
	failed := 0
	total := map[string]int{}
	for _, seed := range seeds {
		r := linktest.Simulate(linktest.SimOptions{Seed: seed, Steps: *flagSteps, HealSteps: 150})
		for k, v := range r.Stats {
			total[k] += v
		}
		if r.Err != nil {
			failed++
			t.Error(linktest.FormatTrace(seed, r))
			if failed >= 3 {
				t.Fatalf("stopping after %d failing seeds", failed)
			}
		}
	}
	t.Logf("%d seeds in %s; role changes and events: %v", len(seeds), time.Since(start), total)
}

func TestSimulationDeterministic(t *testing.T) {
	for seed := int64(0); seed < 5; seed++ {
		a := linktest.Simulate(linktest.SimOptions{Seed: seed, Steps: 200, HealSteps: 100})
		b := linktest.Simulate(linktest.SimOptions{Seed: seed, Steps: 200, HealSteps: 100})
		if got, want := linktest.FormatTrace(seed, b), linktest.FormatTrace(seed, a); got != want {
			t.Fatalf("seed %d does not replay:\n%s\nvs\n%s", seed, got, want)
		}
	}
}

var flagEtcdSeeds = flag.Int("etcd-seeds", 1000, "number of random seeds TestSimulationEtcd runs")

// TestSimulationEtcd runs the simulation of AutoFailover links, with etcd
// faults. Replay a failing seed with -run TestSimulationEtcd -seed N.
func TestSimulationEtcd(t *testing.T) {
	seeds := make([]int64, 0, *flagEtcdSeeds)
	if *flagSeed >= 0 {
		seeds = append(seeds, *flagSeed)
	} else {
		for i := 0; i < *flagEtcdSeeds; i++ {
			seeds = append(seeds, int64(i))
		}
	}
	start := time.Now()
	failed := 0
	total := map[string]int{}
	for _, seed := range seeds {
		r := linktest.SimulateEtcd(linktest.SimOptions{Seed: seed, Steps: *flagSteps, HealSteps: 150})
		for k, v := range r.Stats {
			total[k] += v
		}
		if r.Err != nil {
			failed++
			t.Error(linktest.FormatEtcdTrace(seed, r))
			if failed >= 3 {
				t.Fatalf("stopping after %d failing seeds", failed)
			}
		}
	}
	t.Logf("%d seeds with etcd faults in %s; role changes and events: %v", len(seeds), time.Since(start), total)
}

func TestSimulationEtcdDeterministic(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		a := linktest.SimulateEtcd(linktest.SimOptions{Seed: seed, Steps: 300, HealSteps: 100})
		b := linktest.SimulateEtcd(linktest.SimOptions{Seed: seed, Steps: 300, HealSteps: 100})
		a.Err, b.Err = fmt.Errorf("trace"), fmt.Errorf("trace") // compare the traces, pass or fail
		if got, want := linktest.FormatEtcdTrace(seed, b), linktest.FormatEtcdTrace(seed, a); got != want || fmt.Sprint(a.Stats) != fmt.Sprint(b.Stats) {
			t.Fatalf("seed %d does not replay:\n%s\nvs\n%s", seed, got, want)
		}
	}
}
