// Package provider routes completions over model providers: the Router
// (failover, hedging, circuit breakers, continuation of cut streams), the
// shared HTTP transport and construction of the wire clients from config.
package provider

import (
	"net/http"

	"github.com/switchboard-chat/switchboard/provider/internal/upstream"
)

// DefaultMaxConns is the keep-alive pool size per upstream host when the
// config does not give one.
const DefaultMaxConns = 64

// NewTransport returns the tuned transport one upstream's client uses: a
// keep-alive pool of maxConns idle connections per host, 5 s dial and TLS
// handshake timeouts, 90 s idle timeout, HTTP/2 when the server offers it
// and no transparent gzip (it would hold back stream chunks). There is
// deliberately no ResponseHeaderTimeout: the router's first-token timeout
// covers a server that never answers.
func NewTransport(maxConns int) *http.Transport {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	return upstream.NewTransport(maxConns)
}
