package upstream

import (
	"net"
	"net/http"
	"time"
)

// NewTransport is provider.NewTransport; the wire clients use it when they
// are given no transport.
func NewTransport(maxConns int) *http.Transport {
	if maxConns <= 0 {
		maxConns = 64
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxConns * 2,
		MaxIdleConnsPerHost:   maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Transparent gzip would hold back stream chunks.
		DisableCompression: true,
		// No ResponseHeaderTimeout: the router's first-token timeout
		// covers a server that never answers.
	}
}
