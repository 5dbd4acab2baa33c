// microbench: goroutine/runtime anchors, one "metric value unit" line per metric.
//
// Build: go build -o microbench microbench.go   (module-less, stdlib only)
// Run:   GOMAXPROCS=1 taskset -c 1 ./microbench
//
// Metrics (all wall-clock; warm figures are the median of -reps repetitions):
//   idle_*            park -idle goroutines on one channel; deltas of runtime.MemStats
//                     (Sys, StackInuse, HeapInuse) and of process VmRSS, per goroutine.
//                     Runs first, in a fresh process, because later tests leave dead
//                     g's with their stacks on the runtime free lists.
//   spawn_join_*      go func(){ wg.Done() }() N times, then wg.Wait(); ns per goroutine.
//                     "cold" = first round (allocates g's and stacks), "warm" = later rounds.
//   spawn_join_seq    wg.Add(1); go f(); wg.Wait() one at a time: create+run+join latency.
//   chan_pingpong_rtt unbuffered channel round trip between two goroutines (2 sends, 2 receives).
//   chan_pingpong_cross_thread_rtt  the same with both goroutines locked to their own OS threads
//                     (runtime.LockOSThread), so every message crosses threads as spindle's
//                     cross-thread ping-pong does; only with GOMAXPROCS >= 2.
//   ctx_cancel_*      -fanout goroutines blocked on <-ctx.Done(); time from cancel() until
//                     the last one has called wg.Done() (wg.Wait returns).
//   wg_add_done       uncontended wg.Add(1); wg.Done() pair.
//   wg_wait_zero      wg.Wait() on a zero counter.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"time"
)

var (
	nSpawn   = flag.Int("spawn", 1000000, "goroutines per spawn+join round")
	nIdle    = flag.Int("idle", 100000, "parked goroutines for the memory test")
	nPing    = flag.Int("pingpong", 1000000, "channel round trips per rep")
	nFanout  = flag.Int("fanout", 100000, "goroutines waiting on ctx.Done()")
	nWG      = flag.Int("wg", 10000000, "WaitGroup ops per rep")
	nSeq     = flag.Int("seq", 200000, "sequential spawn+join per rep")
	reps     = flag.Int("reps", 5, "repetitions for warm figures (median reported)")
	onlyTest = flag.String("only", "", "run only tests whose name starts with this (idle, spawn, chan, ctx, wg)")
)

func emit(name string, v float64, unit string) {
	fmt.Printf("%s %.1f %s\n", name, v, unit)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// rssBytes returns VmRSS of this process from /proc/self/status.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("VmRSS:")) {
			f := bytes.Fields(line[len("VmRSS:"):])
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return kb * 1024
			}
		}
	}
	return -1
}

func run(name string) bool {
	return *onlyTest == "" || len(name) >= len(*onlyTest) && name[:len(*onlyTest)] == *onlyTest
}

func testIdle() {
	n := *nIdle
	runtime.GC()
	debug.FreeOSMemory()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	rss0 := rssBytes()

	ch := make(chan struct{})
	var started, exited sync.WaitGroup
	started.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-ch
			exited.Done()
		}()
	}
	started.Wait()
	time.Sleep(100 * time.Millisecond) // let every goroutine reach the channel receive
	runtime.ReadMemStats(&m1)
	rss1 := rssBytes()
	ngo := runtime.NumGoroutine()

	fn := float64(n)
	emit("idle_goroutines", float64(ngo-1), "count")
	emit("idle_sys_per_goroutine", float64(int64(m1.Sys)-int64(m0.Sys))/fn, "B")
	emit("idle_stackinuse_per_goroutine", float64(int64(m1.StackInuse)-int64(m0.StackInuse))/fn, "B")
	emit("idle_heapinuse_per_goroutine", float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/fn, "B")
	emit("idle_rss_per_goroutine", float64(rss1-rss0)/fn, "B")
	close(ch)
	exited.Wait()
}

func spawnJoinOnce(n int) time.Duration {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return time.Since(t0)
}

func testSpawn() {
	n := *nSpawn
	cold := spawnJoinOnce(n)
	emit("spawn_join_cold_ns_per_goroutine", float64(cold.Nanoseconds())/float64(n), "ns")
	var xs []float64
	for r := 0; r < *reps; r++ {
		xs = append(xs, float64(spawnJoinOnce(n).Nanoseconds())/float64(n))
	}
	emit("spawn_join_warm_ns_per_goroutine", median(xs), "ns")

	xs = xs[:0]
	for r := 0; r < *reps; r++ {
		var wg sync.WaitGroup
		m := *nSeq
		t0 := time.Now()
		for i := 0; i < m; i++ {
			wg.Add(1)
			go func() { wg.Done() }()
			wg.Wait()
		}
		xs = append(xs, float64(time.Since(t0).Nanoseconds())/float64(m))
	}
	emit("spawn_join_seq_ns", median(xs), "ns")
}

// pingPong returns the median ns per round trip; lockThreads pins both goroutines to OS threads.
func pingPong(n int, lockThreads bool) float64 {
	var xs []float64
	for r := 0; r < *reps+1; r++ {
		ping, pong := make(chan int), make(chan int)
		go func() {
			if lockThreads {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			for v := range ping {
				pong <- v
			}
		}()
		if lockThreads {
			runtime.LockOSThread()
		}
		t0 := time.Now()
		for i := 0; i < n; i++ {
			ping <- i
			<-pong
		}
		el := time.Since(t0)
		close(ping)
		if lockThreads {
			runtime.UnlockOSThread()
		}
		if r > 0 { // first rep is warm-up
			xs = append(xs, float64(el.Nanoseconds())/float64(n))
		}
	}
	return median(xs)
}

func testChan() {
	emit("chan_pingpong_rtt_ns", pingPong(*nPing, false), "ns")
	if runtime.GOMAXPROCS(0) >= 2 {
		// Each hop wakes the other OS thread: far slower per round trip, so fewer of them.
		emit("chan_pingpong_cross_thread_rtt_ns", pingPong(*nPing/20, true), "ns")
	}
}

func testCtx() {
	n := *nFanout
	var tot []float64
	for r := 0; r < *reps; r++ {
		ctx, cancel := context.WithCancel(context.Background())
		var ready, done sync.WaitGroup
		ready.Add(n)
		done.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				d := ctx.Done()
				ready.Done()
				<-d
				done.Done()
			}()
		}
		ready.Wait()
		time.Sleep(100 * time.Millisecond) // all parked on the channel
		t0 := time.Now()
		cancel()
		done.Wait()
		tot = append(tot, float64(time.Since(t0).Nanoseconds()))
	}
	m := median(tot)
	emit("ctx_cancel_fanout_total_ms", m/1e6, "ms")
	emit("ctx_cancel_fanout_ns_per_goroutine", m/float64(n), "ns")
}

func testWG() {
	n := *nWG
	var xs, ys []float64
	for r := 0; r < *reps; r++ {
		var wg sync.WaitGroup
		t0 := time.Now()
		for i := 0; i < n; i++ {
			wg.Add(1)
			wg.Done()
		}
		xs = append(xs, float64(time.Since(t0).Nanoseconds())/float64(n))
		t0 = time.Now()
		for i := 0; i < n; i++ {
			wg.Wait()
		}
		ys = append(ys, float64(time.Since(t0).Nanoseconds())/float64(n))
	}
	emit("wg_add_done_ns", median(xs), "ns")
	emit("wg_wait_zero_ns", median(ys), "ns")
}

func main() {
	flag.Parse()
	fmt.Printf("# go=%s GOMAXPROCS=%d NumCPU=%d\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU())
	if run("idle") {
		testIdle()
	}
	if run("spawn") {
		testSpawn()
	}
	if run("chan") {
		testChan()
	}
	if run("ctx") {
		testCtx()
	}
	if run("wg") {
		testWG()
	}
}
