package llmsim

import "sync"

// recentRequests is how many requests' messages the simulator keeps for
// inspection (GET /llmsim/requests).
const recentRequests = 32

// Seen is a request as the simulator received it: tests check the model
// context a server sent (system prompt, passages, agents' replies).
type Seen struct {
	Model    string        `json:"model"`
	Messages []SeenMessage `json:"messages"`
}

// SeenMessage is one message of a received request.
type SeenMessage struct {
	Role string `json:"role"`
	Text string `json:"text"`
}

// requestLog is a bounded ring of received requests.
type requestLog struct {
	mu   sync.Mutex
	ring []Seen
	next int
}

func (l *requestLog) add(req *request) {
	s := Seen{Model: req.model, Messages: make([]SeenMessage, len(req.messages))}
	for i, m := range req.messages {
		s.Messages[i] = SeenMessage{Role: m.role, Text: m.text}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) < recentRequests {
		l.ring = append(l.ring, s)
		return
	}
	l.ring[l.next] = s
	l.next = (l.next + 1) % recentRequests
}

// all returns the kept requests, oldest first.
func (l *requestLog) all() []Seen {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Seen, 0, len(l.ring))
	out = append(out, l.ring[l.next:]...)
	return append(out, l.ring[:l.next]...)
}

// Requests returns the most recent requests received (at most 32), oldest first.
func (s *Server) Requests() []Seen { return s.requests.all() }
