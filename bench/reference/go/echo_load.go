// echo_load: closed-loop TCP echo load generator (and idle-connection holder).
//
// Build: go build -o echo_load echo_load.go   (module-less, stdlib only)
//
// Throughput mode (default): -conns connections, each sends a -size byte message,
// waits for the complete echo (io.ReadFull), checks it, repeats. After -warmup
// (unrecorded) it measures for -duration and prints one line:
//   echo_load conns=64 size=64 duration_s=10.000 round_trips=... rt_per_s=... p50_us=... p90_us=... p99_us=... p999_us=... max_us=... errors=0
// Latency is per round trip, client-side wall clock (includes client scheduling);
// histogram is log-linear with 64 sub-buckets per power of two (<1.6% error).
//
// Fixed rate (-rate N, with throughput mode): open loop instead. Each connection sends on
// its own schedule, N/conns messages per second, the connections' schedules evenly
// staggered; a connection that falls behind sends at once until it has caught up. The
// server's CPU per round trip then measures its own work at a load it can carry, rather
// than the client's pace. The result line adds rate=N; latency is still from each send.
//
// Idle mode (-idle N): opens N connections (-dialpar at a time), optionally does one
// round trip on each (-ping; -http makes that an HTTP/1.1 keep-alive GET / instead of
// an echo), prints "READY ..." and holds them open until -hold elapses or SIGTERM/SIGINT.
// Used to measure server RSS per idle connection.
//
// Everything is bounded in time: socket deadlines and timers always end the run.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	addr     = flag.String("addr", "127.0.0.1:19001", "server address")
	conns    = flag.Int("conns", 64, "connections (throughput mode)")
	duration = flag.Duration("duration", 10*time.Second, "measured duration (throughput mode)")
	warmup   = flag.Duration("warmup", 0, "unrecorded warm-up before the measured window")
	size     = flag.Int("size", 64, "message size in bytes")
	idle     = flag.Int("idle", 0, "idle mode: number of connections to open and hold")
	hold     = flag.Duration("hold", 30*time.Second, "idle mode: maximum time to hold the connections")
	ping     = flag.Bool("ping", true, "idle mode: do one round trip per connection before idling")
	httpPing = flag.Bool("http", false, "idle mode: the ping is an HTTP/1.1 GET / (keep-alive) instead of an echo")
	dialPar  = flag.Int("dialpar", 100, "idle mode / setup: concurrent dials")
	rate     = flag.Int("rate", 0, "throughput mode: round trips per second in all, paced (open loop); 0: closed loop")
)

// ---- log-linear histogram ----------------------------------------------------

const subBits = 6
const subCount = 1 << subBits
const nBuckets = (64 - subBits) * subCount

type hist struct {
	b   [nBuckets]uint64
	n   uint64
	max uint64
}

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)*subCount + int((v>>uint(shift))-subCount)
}

func bucketValue(i int) uint64 { // midpoint of the bucket
	if i < subCount {
		return uint64(i)
	}
	shift := i/subCount - 1
	m := uint64(i%subCount + subCount)
	return m<<uint(shift) + (uint64(1)<<uint(shift))/2
}

func (h *hist) add(v uint64) {
	h.b[bucketOf(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *hist) merge(o *hist) {
	for i := range h.b {
		h.b[i] += o.b[i]
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

func (h *hist) quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	target := uint64(q*float64(h.n) + 0.5)
	if target < 1 {
		target = 1
	}
	var acc uint64
	for i, c := range h.b {
		acc += c
		if acc >= target {
			v := bucketValue(i)
			if v > h.max {
				v = h.max
			}
			return v
		}
	}
	return h.max
}

// ---- throughput mode ----------------------------------------------------------

const (
	phaseWarm = iota
	phaseMeasure
	phaseStop
)

func dialAll(n int) ([]net.Conn, int) {
	cs := make([]net.Conn, n)
	var failed int64
	sem := make(chan struct{}, *dialPar)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			var c net.Conn
			var err error
			for try := 0; try < 5; try++ {
				c, err = net.DialTimeout("tcp", *addr, 5*time.Second)
				if err == nil {
					break
				}
				time.Sleep(time.Duration(100*(try+1)) * time.Millisecond)
			}
			if err != nil {
				atomic.AddInt64(&failed, 1)
				fmt.Fprintf(os.Stderr, "dial: %v\n", err)
				return
			}
			cs[i] = c
		}(i)
	}
	wg.Wait()
	return cs, int(failed)
}

func throughput() {
	cs, failed := dialAll(*conns)
	var phase int32 = phaseWarm
	var errs int64 = int64(failed)
	hists := make([]*hist, len(cs))
	counts := make([]uint64, len(cs))
	deadline := time.Now().Add(*warmup + *duration + 5*time.Second)

	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for i, c := range cs {
		if c == nil {
			continue
		}
		hists[i] = new(hist)
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			defer c.Close()
			_ = c.SetDeadline(deadline)
			h := hists[i]
			msg := make([]byte, *size)
			for j := range msg {
				msg[j] = byte('a' + (i+j)%26)
			}
			rbuf := make([]byte, *size)
			var seq uint64
			var cnt uint64
			<-startGate
			// Fixed rate: this connection's schedule, staggered by its index.
			var interval time.Duration
			var next time.Time
			if *rate > 0 {
				interval = time.Duration(float64(time.Second) * float64(len(cs)) / float64(*rate))
				next = time.Now().Add(interval * time.Duration(i) / time.Duration(len(cs)))
			}
			for {
				if *rate > 0 {
					if wait := time.Until(next); wait > 0 {
						time.Sleep(wait)
					}
					next = next.Add(interval)
				}
				p := atomic.LoadInt32(&phase)
				if p == phaseStop {
					break
				}
				if len(msg) >= 8 {
					seq++
					binary.LittleEndian.PutUint64(msg, seq)
				}
				t0 := time.Now()
				if _, err := c.Write(msg); err != nil {
					atomic.AddInt64(&errs, 1)
					fmt.Fprintf(os.Stderr, "conn %d write: %v\n", i, err)
					break
				}
				if _, err := io.ReadFull(c, rbuf); err != nil {
					atomic.AddInt64(&errs, 1)
					fmt.Fprintf(os.Stderr, "conn %d read: %v\n", i, err)
					break
				}
				lat := time.Since(t0)
				if !bytes.Equal(msg, rbuf) {
					atomic.AddInt64(&errs, 1)
					fmt.Fprintf(os.Stderr, "conn %d: echo mismatch\n", i)
					break
				}
				if atomic.LoadInt32(&phase) == phaseMeasure {
					h.add(uint64(lat.Nanoseconds()))
					cnt++
				}
			}
			counts[i] = cnt
		}(i, c)
	}

	close(startGate)
	time.Sleep(*warmup)
	atomic.StoreInt32(&phase, phaseMeasure)
	tStart := time.Now()
	time.Sleep(*duration)
	atomic.StoreInt32(&phase, phaseStop)
	elapsed := time.Since(tStart)
	wg.Wait()

	var total hist
	var rts uint64
	for i, h := range hists {
		if h != nil {
			total.merge(h)
			rts += counts[i]
		}
	}
	us := func(ns uint64) float64 { return float64(ns) / 1e3 }
	rateField := ""
	if *rate > 0 {
		rateField = fmt.Sprintf(" rate=%d", *rate)
	}
	fmt.Printf("echo_load conns=%d size=%d duration_s=%.3f round_trips=%d rt_per_s=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f errors=%d%s\n",
		*conns, *size, elapsed.Seconds(), rts, float64(rts)/elapsed.Seconds(),
		us(total.quantile(0.50)), us(total.quantile(0.90)), us(total.quantile(0.99)),
		us(total.quantile(0.999)), us(total.max), errs, rateField)
}

// ---- idle mode ----------------------------------------------------------------

func pingEcho(c net.Conn) error {
	msg := bytes.Repeat([]byte{'i'}, *size)
	if _, err := c.Write(msg); err != nil {
		return err
	}
	rbuf := make([]byte, *size)
	if _, err := io.ReadFull(c, rbuf); err != nil {
		return err
	}
	if !bytes.Equal(msg, rbuf) {
		return fmt.Errorf("echo mismatch")
	}
	return nil
}

func pingHTTP(c net.Conn) error {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		return err
	}
	br := bufio.NewReaderSize(c, 1024)
	status, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		return fmt.Errorf("bad status %q", strings.TrimSpace(status))
	}
	cl := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if cl < 0 {
		return fmt.Errorf("no Content-Length")
	}
	_, err = io.CopyN(io.Discard, br, int64(cl))
	return err
}

func idleMode() {
	t0 := time.Now()
	cs, failed := dialAll(*idle)
	dialTime := time.Since(t0)
	var pingFailed int64
	if *ping {
		sem := make(chan struct{}, *dialPar)
		var wg sync.WaitGroup
		for i, c := range cs {
			if c == nil {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func(i int, c net.Conn) {
				defer wg.Done()
				defer func() { <-sem }()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				var err error
				if *httpPing {
					err = pingHTTP(c)
				} else {
					err = pingEcho(c)
				}
				_ = c.SetDeadline(time.Time{})
				if err != nil {
					atomic.AddInt64(&pingFailed, 1)
					fmt.Fprintf(os.Stderr, "ping %d: %v\n", i, err)
				}
			}(i, c)
		}
		wg.Wait()
	}
	ok := 0
	for _, c := range cs {
		if c != nil {
			ok++
		}
	}
	fmt.Printf("READY idle_conns=%d open=%d dial_failed=%d ping_failed=%d setup_s=%.2f\n",
		*idle, ok, failed, pingFailed, time.Since(t0).Seconds())
	_ = dialTime

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-time.After(*hold):
	}
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
	fmt.Println("DONE")
}

func main() {
	flag.Parse()
	if *idle > 0 {
		idleMode()
		return
	}
	throughput()
}
