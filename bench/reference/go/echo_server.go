// echo_server: Go anchor TCP echo server, one goroutine per connection.
//
// Build: go build -o echo_server echo_server.go   (module-less, stdlib only)
// Run:   GOMAXPROCS=1 ./echo_server -addr 127.0.0.1:19001
//
// Default mode is the io.Copy loop written out with a fixed per-connection
// buffer (-buf, default 4096 bytes, same as the Asio anchor), i.e.
// io.CopyBuffer(conn, conn, buf) without the ReaderFrom fast path.
// -splice uses plain io.Copy(conn, conn): on Linux, *net.TCPConn.ReadFrom then
// splices socket->pipe->socket, which holds one pipe (2 extra fds) per blocked
// connection; that makes 10k idle connections need ~30k fds and changes the
// per-round-trip syscall mix, so it is an opt-in variant only.
package main

import (
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"time"
)

var (
	addr   = flag.String("addr", "127.0.0.1:19001", "listen address")
	bufSz  = flag.Int("buf", 4096, "per-connection buffer size in bytes (read/write loop mode)")
	splice = flag.Bool("splice", false, "use plain io.Copy(conn, conn) (Linux splice path, +2 fds per connection)")
)

func handle(c net.Conn) {
	defer c.Close()
	if *splice {
		_, _ = io.Copy(c, c)
		return
	}
	buf := make([]byte, *bufSz)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("go echo server on %s (buf=%d splice=%v)", ln.Addr(), *bufSz, *splice)
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off briefly like net/http does.
			log.Printf("accept: %v", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go handle(c)
	}
}
