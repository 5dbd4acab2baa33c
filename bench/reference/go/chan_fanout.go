// chan_fanout: the Go twin of spindle's fanout_jobs_per_s (bench/runtime/runtime_bench.cpp):
// -jobs jobs through 8 worker goroutines over buffered channels (capacity 1024), results
// summed by main. Prints "fanout_jobs_per_s <median> jobs/s".
//
// Build: go build -o chan_fanout chan_fanout.go     Run: GOMAXPROCS=1 ./chan_fanout
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	jobs := flag.Int("jobs", 1000000, "jobs per repetition")
	reps := flag.Int("reps", 5, "repetitions (median reported)")
	flag.Parse()
	const workers = 8
	var rates []float64
	for r := 0; r < *reps; r++ {
		in := make(chan int, 1024)
		out := make(chan int64, 1024)
		var wg sync.WaitGroup
		t0 := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range in {
					out <- int64(j) * 2
				}
			}()
		}
		go func() {
			for i := 0; i < *jobs; i++ {
				in <- i
			}
			close(in)
		}()
		var sum int64
		for i := 0; i < *jobs; i++ {
			sum += <-out
		}
		rates = append(rates, float64(*jobs)/time.Since(t0).Seconds())
		wg.Wait()
		if sum != int64(*jobs)*int64(*jobs-1) {
			fmt.Fprintln(os.Stderr, "fanout: wrong sum")
		}
	}
	sort.Float64s(rates)
	fmt.Printf("fanout_jobs_per_s %.1f jobs/s\n", rates[len(rates)/2])
}
