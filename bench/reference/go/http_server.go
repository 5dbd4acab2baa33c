// http_server: Go anchor net/http server.
//
//   GET /      -> 200 "Hello, World!" (text/plain)
//   POST /echo -> 200, echoes the request body
//
// Build: go build -o http_server http_server.go   (module-less, stdlib only)
// Run:   ./http_server -addr 127.0.0.1:19011   (GOMAXPROCS: runtime default unless set in env)
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
)

var hello = []byte("Hello, World!")

func main() {
	addr := flag.String("addr", "127.0.0.1:19011", "listen address")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(hello)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		if r.ContentLength >= 0 {
			w.Header().Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
		}
		_, _ = io.Copy(w, r.Body)
	})

	srv := &http.Server{Addr: *addr, Handler: mux}
	log.Printf("go http server on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}
