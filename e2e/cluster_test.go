package e2e

// Scale-out: three `switchboard serve` processes on one PostgreSQL database
// and one Redis, answering through llmsim. Instance A generates (the
// visitor's message is posted there), B and C only relay and resume.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/redis"
)

// clusterAnswerTimeout bounds one streamed answer of the default llmsim
// shape (3 s) with a wide margin for a loaded machine.
const clusterAnswerTimeout = 60 * time.Second

// clusterPost posts a visitor message on node n and returns the stored
// message's seq.
func clusterPost(tb testing.TB, n *clusterNode, v clusterVisitor, clientMsgID, content string) int64 {
	tb.Helper()
	var resp struct {
		Message   clusterMessage `json:"message"`
		Duplicate bool           `json:"duplicate"`
	}
	clusterMustJSON(tb, http.MethodPost, n.URL+"/v1/conversations/"+v.ConversationID+"/messages", v.Token,
		map[string]string{"client_msg_id": clientMsgID, "content": content}, http.StatusCreated, &resp)
	if resp.Duplicate || resp.Message.Seq == 0 {
		tb.Fatalf("posting %s: got %+v", clientMsgID, resp)
	}
	return resp.Message.Seq
}

// clusterBotStart waits for the start frame of the bot's answer to the
// message stored at seq and returns the answer's message id.
func clusterBotStart(tb testing.TB, s *clusterStream, afterSeq int64) string {
	tb.Helper()
	var id string
	s.await(tb, "the answer's start frame", clusterAnswerTimeout, func(fs []clusterFrame) bool {
		for _, f := range fs {
			if f.Type == "start" && f.Seq > afterSeq {
				id = f.MessageID
				return true
			}
		}
		return false
	})
	return id
}

// clusterFinished reports whether frames hold the done or error frame of msgID.
func clusterFinished(msgID string) func([]clusterFrame) bool {
	return func(fs []clusterFrame) bool {
		for _, f := range fs {
			if (f.Type == "done" || f.Type == "error") && f.MessageID == msgID {
				return true
			}
		}
		return false
	}
}

// clusterNoDeltaAfterEnd fails when a delta of msgID follows its done or error frame.
func clusterNoDeltaAfterEnd(tb testing.TB, name string, fs []clusterFrame, msgID string) {
	tb.Helper()
	ended := false
	for _, f := range fs {
		if f.MessageID != msgID {
			continue
		}
		switch f.Type {
		case "done", "error":
			ended = true
		case "delta":
			if ended {
				tb.Fatalf("%s: delta seq %d after the answer ended: %s", name, f.Seq, clusterDescribe(fs))
			}
		}
	}
}

// A reply generated on instance A reaches a visitor following the
// conversation on instance B: start, the deltas (whose reassembly by
// offset is the stored text) and done, in seq order.
func TestClusterReplyStreamsToOtherInstance(t *testing.T) {
	env := clusterStart(t)
	a, b, c := env.Nodes[0], env.Nodes[1], env.Nodes[2]
	v := env.visitor(t, b)
	sse := clusterSSE(t, b, v.ConversationID, v.Token, 0)

	seq := clusterPost(t, a, v, "q1", "How does scale-out work?")
	msgID := clusterBotStart(t, sse, seq)
	fs := sse.await(t, "the answer's done frame", clusterAnswerTimeout, clusterFinished(msgID))

	if _, ok := clusterFind(fs, "error", msgID); ok {
		t.Fatalf("answer failed on B: %s", clusterDescribe(fs))
	}
	done, _ := clusterFind(fs, "done", msgID)
	if done.FinishReason != "stop" {
		t.Errorf("done finish_reason = %q, want stop", done.FinishReason)
	}
	// The visitor's own message is echoed on B too.
	echo := false
	for _, f := range fs {
		echo = echo || (f.Type == "message" && f.Seq == seq)
	}
	if !echo {
		t.Errorf("B did not relay the visitor's message (seq %d): %s", seq, clusterDescribe(fs))
	}
	// Order: start, then deltas, then done; seqs increase.
	var last int64
	startAt, doneAt := -1, -1
	for i, f := range fs {
		if f.Seq != 0 {
			if f.Seq <= last {
				t.Fatalf("frame %d (%s) has seq %d after seq %d: %s", i, f.Type, f.Seq, last, clusterDescribe(fs))
			}
			last = f.Seq
		}
		if f.MessageID != msgID {
			continue
		}
		switch f.Type {
		case "start":
			startAt = i
		case "done":
			doneAt = i
		case "delta":
			if startAt < 0 || doneAt >= 0 {
				t.Fatalf("delta %d outside start..done: %s", i, clusterDescribe(fs))
			}
		}
	}
	if n := clusterDeltas(fs, msgID); n < 2 {
		t.Fatalf("want the answer streamed in several deltas, got %d: %s", n, clusterDescribe(fs))
	}
	text, err := clusterText(fs, msgID)
	if err != nil {
		t.Fatalf("B: %v: %s", err, clusterDescribe(fs))
	}
	stored := env.message(t, c, v.ConversationID, msgID)
	if stored.Sender != "bot" || stored.State != "complete" {
		t.Errorf("stored answer: sender %q state %q, want bot complete", stored.Sender, stored.State)
	}
	if text == "" || text != stored.Content {
		t.Fatalf("text streamed to B differs from the stored answer:\nB:      %q\nstored: %q", text, stored.Content)
	}
}

// A visitor who reconnects to a third instance C in the middle of an
// answer generated on A (hello with the last seq it saw on B) gets the
// whole text exactly once: the part so far as one delta from offset 0,
// then the live rest.
func TestClusterResumeOnThirdInstance(t *testing.T) {
	env := clusterStart(t, "--tokens", "160", "--tokens-per-sec", "20") // 8 s: time to resume mid-answer
	a, b, c := env.Nodes[0], env.Nodes[1], env.Nodes[2]
	v := env.visitor(t, a)
	sse := clusterSSE(t, b, v.ConversationID, v.Token, 0)

	seq := clusterPost(t, a, v, "q1", "Tell me a long story about resuming streams")
	msgID := clusterBotStart(t, sse, seq)
	fs := sse.await(t, "a few deltas on B", clusterAnswerTimeout, func(fs []clusterFrame) bool { return clusterDeltas(fs, msgID) >= 5 })
	if clusterFinished(msgID)(fs) {
		t.Fatalf("the answer finished before the resume; the test needs a longer one: %s", clusterDescribe(fs))
	}
	var lastSeq int64
	for _, f := range fs {
		lastSeq = max(lastSeq, f.Seq)
	}

	ws := clusterWS(t, c, v.ConversationID, v.Token, lastSeq)
	wfs := ws.await(t, "the answer's end on C", clusterAnswerTimeout, clusterFinished(msgID))
	if wfs[0].Type != "ready" {
		t.Fatalf("C's first frame is %s, want ready: %s", wfs[0].Type, clusterDescribe(wfs))
	}
	for _, f := range wfs {
		if f.Type != "delta" && f.Seq != 0 && f.Seq <= lastSeq {
			t.Fatalf("C replayed %s seq %d, not after last_seq %d: %s", f.Type, f.Seq, lastSeq, clusterDescribe(wfs))
		}
	}
	if _, ok := clusterFind(wfs, "done", msgID); !ok {
		t.Fatalf("C: the answer did not end with done: %s", clusterDescribe(wfs))
	}
	// Mid-answer: the part so far, then at least one live delta.
	if n := clusterDeltas(wfs, msgID); n < 2 {
		t.Fatalf("C got %d deltas; want the text so far and then live deltas: %s", n, clusterDescribe(wfs))
	}
	resumed, err := clusterText(wfs, msgID)
	if err != nil {
		t.Fatalf("C: %v: %s", err, clusterDescribe(wfs))
	}
	bfs := sse.await(t, "the answer's end on B", clusterAnswerTimeout, clusterFinished(msgID))
	onB, err := clusterText(bfs, msgID)
	if err != nil {
		t.Fatalf("B: %v: %s", err, clusterDescribe(bfs))
	}
	stored := env.message(t, b, v.ConversationID, msgID)
	if stored.State != "complete" || stored.Content == "" {
		t.Fatalf("stored answer: state %q, %d bytes; want complete with text", stored.State, len(stored.Content))
	}
	if resumed != stored.Content {
		t.Fatalf("text resumed on C differs from the stored answer:\nC:      %q\nstored: %q", resumed, stored.Content)
	}
	if onB != stored.Content {
		t.Fatalf("text streamed to B differs from the stored answer:\nB:      %q\nstored: %q", onB, stored.Content)
	}
}

// An answer longer than the shared log (redis.LogMaxLen frames, so its
// start frame has been trimmed away) can still be resumed on a third
// instance: the beginning comes from the text persisted in the store.
func TestClusterResumeLongAnswer(t *testing.T) {
	env := clusterStart(t, "--tokens", "9000", "--tokens-per-sec", "1000") // 9 s, ~100 KiB
	a, b, c := env.Nodes[0], env.Nodes[1], env.Nodes[2]
	v := env.visitor(t, a)
	sse := clusterSSE(t, b, v.ConversationID, v.Token, 0)

	seq := clusterPost(t, a, v, "q1", "Tell me everything")
	msgID := clusterBotStart(t, sse, seq)
	fs := sse.await(t, "more deltas than the shared log holds", clusterAnswerTimeout, func(fs []clusterFrame) bool {
		return clusterDeltas(fs, msgID) >= redis.LogMaxLen+500
	})
	if clusterFinished(msgID)(fs) {
		t.Fatalf("the answer finished before the resume; the test needs a longer one")
	}
	var lastSeq int64
	for _, f := range fs {
		lastSeq = max(lastSeq, f.Seq)
	}
	ws := clusterWS(t, c, v.ConversationID, v.Token, lastSeq)
	wfs := ws.await(t, "the answer's end on C", clusterAnswerTimeout, clusterFinished(msgID))
	if _, ok := clusterFind(wfs, "done", msgID); !ok {
		t.Fatalf("C: the answer did not end with done: %s", clusterDescribe(wfs))
	}
	resumed, err := clusterText(wfs, msgID)
	if err != nil {
		t.Fatalf("C: %v: %s", err, clusterDescribe(wfs))
	}
	stored := env.message(t, b, v.ConversationID, msgID)
	if stored.State != "complete" || resumed != stored.Content {
		t.Fatalf("text resumed on C (%d bytes) differs from the stored answer (%s, %d bytes)", len(resumed), stored.State, len(stored.Content))
	}
}

// stop sent to another instance than the one generating stops the job:
// the upstream request is cancelled and the partial answer is kept as
// cancelled.
func TestClusterStopFromOtherInstance(t *testing.T) {
	env := clusterStart(t, "--tokens", "400", "--tokens-per-sec", "20") // 20 s: still running when stopped
	a, b, c := env.Nodes[0], env.Nodes[1], env.Nodes[2]
	v := env.visitor(t, a)
	sse := clusterSSE(t, b, v.ConversationID, v.Token, 0)

	seq := clusterPost(t, a, v, "q1", "Write a very long answer")
	msgID := clusterBotStart(t, sse, seq)
	sse.await(t, "the first deltas on B", clusterAnswerTimeout, func(fs []clusterFrame) bool { return clusterDeltas(fs, msgID) >= 2 })

	var stopped struct {
		Stopped bool `json:"stopped"`
	}
	clusterMustJSON(t, http.MethodPost, b.URL+"/v1/conversations/"+v.ConversationID+"/stop", v.Token, nil, http.StatusOK, &stopped)
	if !stopped.Stopped {
		t.Errorf("stop on B answered stopped=false")
	}
	fs := sse.await(t, "the answer's end on B", 30*time.Second, clusterFinished(msgID))
	done, ok := clusterFind(fs, "done", msgID)
	if !ok || done.FinishReason != "cancelled" {
		t.Fatalf("want done with finish_reason cancelled on B: %s", clusterDescribe(fs))
	}
	text, err := clusterText(fs, msgID)
	if err != nil {
		t.Fatalf("B: %v: %s", err, clusterDescribe(fs))
	}
	stored := env.message(t, c, v.ConversationID, msgID)
	if stored.State != "cancelled" {
		t.Fatalf("stored answer state %q, want cancelled", stored.State)
	}
	if stored.Content == "" || stored.Content != text {
		t.Fatalf("cancelled answer keeps its partial text as streamed:\nB:      %q\nstored: %q", text, stored.Content)
	}
	var st clusterLLMSimStats
	clusterEventually(t, 30*time.Second, func() string {
		st = env.simStats(t)
		if st.Cancelled >= 1 && st.InFlight == 0 {
			return ""
		}
		return fmt.Sprintf("llmsim shows no cancelled request: %+v", st)
	})
	if st.Completed != 0 {
		t.Errorf("llmsim completed %d requests; the only one was stopped: %+v", st.Completed, st)
	}
	clusterNoDeltaAfterEnd(t, "B", sse.snapshot(), msgID)
}

// Two agents taking the same conversation through different instances at
// the same moment: exactly one wins (200), the other gets 409, and the
// conversation is assigned to the winner. Every other round races while
// the bot is answering on a third instance, whose job the takeover stops.
func TestClusterAssignRace(t *testing.T) {
	env := clusterStart(t, "--tokens", "400", "--tokens-per-sec", "20")
	a, b, c := env.Nodes[0], env.Nodes[1], env.Nodes[2]

	type agentUser struct{ id, token string }
	agents := make([]agentUser, 2)
	for i, n := range []*clusterNode{a, b} {
		var created struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
			Password string `json:"password"`
		}
		email := fmt.Sprintf("agent%d@example.com", i+1)
		clusterMustJSON(t, http.MethodPost, c.URL+"/v1/admin/users", env.AdminToken,
			map[string]string{"email": email, "name": fmt.Sprintf("Agent %d", i+1), "role": "agent"}, http.StatusCreated, &created)
		var login struct {
			Token string `json:"token"`
		}
		clusterMustJSON(t, http.MethodPost, n.URL+"/v1/auth/login", "", map[string]string{"email": email, "password": created.Password}, http.StatusOK, &login)
		agents[i] = agentUser{id: created.User.ID, token: login.Token}
	}

	for round := range 6 {
		answering := round%2 == 1
		name := fmt.Sprintf("Round%d", round)
		if answering {
			name += "WhileAnswering"
		}
		t.Run(name, func(t *testing.T) {
			v := env.visitor(t, c)
			botID := ""
			if answering {
				seq := clusterPost(t, c, v, "q", "Please answer at length")
				clusterEventually(t, clusterAnswerTimeout, func() string {
					for _, m := range env.messages(t, c, v.ConversationID) {
						if m.Sender == "bot" && m.Seq > seq {
							botID = m.ID
							return ""
						}
					}
					return "the bot's answer did not start"
				})
			}
			var (
				wg       sync.WaitGroup
				gate     = make(chan struct{})
				statuses [2]int
				bodies   [2]string
				errs     [2]error
			)
			for i, n := range []*clusterNode{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					st, body, err := clusterRequest(http.MethodPost, n.URL+"/v1/agent/conversations/"+v.ConversationID+"/assign", agents[i].token, nil)
					statuses[i], bodies[i], errs[i] = st, string(body), err
				}()
			}
			close(gate)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("assign by agent %d: %v", i+1, err)
				}
			}
			got := []int{statuses[0], statuses[1]}
			sort.Ints(got)
			if got[0] != http.StatusOK || got[1] != http.StatusConflict {
				t.Fatalf("want one 200 and one 409, got %d (%s) on A and %d (%s) on B", statuses[0], bodies[0], statuses[1], bodies[1])
			}
			winner := agents[0]
			if statuses[1] == http.StatusOK {
				winner = agents[1]
			}
			var view struct {
				Conversation struct {
					Status     string `json:"status"`
					Owner      string `json:"owner"`
					AssigneeID string `json:"assignee_id"`
				} `json:"conversation"`
			}
			clusterMustJSON(t, http.MethodGet, c.URL+"/v1/agent/conversations/"+v.ConversationID, env.AdminToken, nil, http.StatusOK, &view)
			if cv := view.Conversation; cv.Status != "assigned" || cv.Owner != "human" || cv.AssigneeID != winner.id {
				t.Fatalf("conversation after the race: %+v, want assigned to the winner %s", cv, winner.id)
			}
			if answering {
				// The takeover stopped the bot on C: its answer is kept as cancelled.
				clusterEventually(t, 30*time.Second, func() string {
					m := env.message(t, a, v.ConversationID, botID)
					if m.State == "cancelled" {
						return ""
					}
					return fmt.Sprintf("bot answer state %q after the takeover, want cancelled", m.State)
				})
			}
		})
	}
}

// Killing the instance that generates an answer: another instance marks
// the answer interrupted once the generation lease expires, keeping the
// text persisted so far (a prefix of what subscribers received), and a
// subscriber on another instance receives an error frame "interrupted".
func TestClusterKillOwnerMidAnswer(t *testing.T) {
	env := clusterStart(t, "--tokens", "400", "--tokens-per-sec", "20") // 20 s: killed long before the end
	a, b, c := env.Nodes[0], env.Nodes[1], env.Nodes[2]
	v := env.visitor(t, b)
	sse := clusterSSE(t, b, v.ConversationID, v.Token, 0)

	seq := clusterPost(t, a, v, "q1", "Write a very long answer")
	msgID := clusterBotStart(t, sse, seq)
	// Kill only once part of the answer is persisted (at least every second).
	clusterEventually(t, clusterAnswerTimeout, func() string {
		m := env.message(t, c, v.ConversationID, msgID)
		if m.State == "streaming" && m.Content != "" {
			return ""
		}
		return fmt.Sprintf("answer not partially persisted yet: state %q, %d bytes", m.State, len(m.Content))
	})
	a.proc.kill(t)

	fs := sse.await(t, "an interrupted error frame on B", clusterLeaseTTL+30*time.Second, clusterFinished(msgID))
	end, ok := clusterFind(fs, "error", msgID)
	if !ok || end.Code != "interrupted" {
		t.Fatalf("want an error frame with code interrupted on B: %s", clusterDescribe(fs))
	}
	received, err := clusterText(fs, msgID)
	if err != nil {
		t.Fatalf("B: %v: %s", err, clusterDescribe(fs))
	}
	stored := env.message(t, c, v.ConversationID, msgID)
	if stored.State != "interrupted" {
		t.Fatalf("stored answer state %q, want interrupted", stored.State)
	}
	if stored.Content == "" || !strings.HasPrefix(received, stored.Content) {
		t.Fatalf("the interrupted answer must keep its persisted text, a prefix of what B received:\nB:      %q\nstored: %q", received, stored.Content)
	}
	clusterNoDeltaAfterEnd(t, "B", sse.snapshot(), msgID)

	// The conversation is not wedged: the next message is answered on B.
	clusterMustJSON(t, http.MethodPut, env.SimURL+"/llmsim/config", "", map[string]any{"mode": "ok", "tokens": 20, "tokens_per_sec": 50, "chunk_size": 1}, http.StatusOK, nil)
	seq2 := clusterPost(t, b, v, "q2", "Are you still there?")
	next := clusterBotStart(t, sse, seq2)
	fs = sse.await(t, "the next answer's end on B", clusterAnswerTimeout, clusterFinished(next))
	if d, ok := clusterFind(fs, "done", next); !ok || d.FinishReason != "stop" {
		t.Fatalf("the next answer after the crash did not complete: %s", clusterDescribe(fs))
	}
}

// 200 visitor messages appended concurrently through the three instances
// to one conversation an agent owns (so the bot stays silent) get distinct,
// increasing seqs; a client_msg_id sent to every instance at once is stored
// once.
func TestClusterConcurrentAppends(t *testing.T) {
	env := clusterStart(t)
	v := env.visitor(t, env.Nodes[0])
	clusterMustJSON(t, http.MethodPost, env.Nodes[0].URL+"/v1/agent/conversations/"+v.ConversationID+"/assign", env.AdminToken, nil, http.StatusOK, nil)

	type result struct {
		node      string
		clientID  string
		status    int
		id        string
		duplicate bool
		err       error
		body      string
	}
	post := func(n *clusterNode, clientID string) result {
		r := result{node: n.Name, clientID: clientID}
		var body []byte
		r.status, body, r.err = clusterRequest(http.MethodPost, n.URL+"/v1/conversations/"+v.ConversationID+"/messages", v.Token,
			map[string]string{"client_msg_id": clientID, "content": "message " + clientID})
		r.body = string(body)
		if r.err == nil && (r.status == http.StatusCreated || r.status == http.StatusOK) {
			var resp struct {
				Message struct {
					ID string `json:"id"`
				} `json:"message"`
				Duplicate bool `json:"duplicate"`
			}
			if err := json.Unmarshal(body, &resp); err != nil {
				r.err = err
			}
			r.id, r.duplicate = resp.Message.ID, resp.Duplicate
		}
		return r
	}
	run := func(jobs []func() result) []result {
		out := make([]result, len(jobs))
		var wg sync.WaitGroup
		gate := make(chan struct{})
		sem := make(chan struct{}, 24)
		for i, job := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				sem <- struct{}{}
				defer func() { <-sem }()
				out[i] = job()
			}()
		}
		close(gate)
		wg.Wait()
		return out
	}
	// checkSeqs verifies the stored messages: seqs strictly increasing, and
	// each client_msg_id stored once; it returns the contact messages.
	checkSeqs := func(t *testing.T) map[string]int {
		t.Helper()
		ms := env.messages(t, env.Nodes[2], v.ConversationID)
		counts := map[string]int{}
		var last int64
		for _, m := range ms {
			if m.Seq <= last {
				t.Fatalf("message %s has seq %d after seq %d", m.ID, m.Seq, last)
			}
			last = m.Seq
			switch m.Sender {
			case "contact":
				counts[m.ClientMsgID]++
			case "bot":
				t.Fatalf("the bot answered a conversation an agent owns: %+v", m)
			}
		}
		return counts
	}

	t.Run("Distinct", func(t *testing.T) {
		jobs := make([]func() result, 200)
		for i := range jobs {
			n := env.Nodes[i%3]
			id := fmt.Sprintf("m-%03d", i)
			jobs[i] = func() result { return post(n, id) }
		}
		for _, r := range run(jobs) {
			if r.err != nil || r.status != http.StatusCreated || r.duplicate {
				t.Fatalf("%s on %s: status %d duplicate %v err %v: %s", r.clientID, r.node, r.status, r.duplicate, r.err, r.body)
			}
		}
		counts := checkSeqs(t)
		total := 0
		for i := range 200 {
			id := fmt.Sprintf("m-%03d", i)
			if counts[id] != 1 {
				t.Errorf("%s stored %d times, want once", id, counts[id])
			}
			total += counts[id]
		}
		if total != 200 || len(counts) != 200 {
			t.Fatalf("want exactly 200 contact messages, got %d (%d distinct ids)", total, len(counts))
		}
	})

	t.Run("DuplicateClientMsgID", func(t *testing.T) {
		var jobs []func() result
		for i := range 20 {
			id := fmt.Sprintf("dup-%02d", i)
			for _, n := range env.Nodes {
				jobs = append(jobs, func() result { return post(n, id) })
			}
		}
		byID := map[string][]result{}
		for _, r := range run(jobs) {
			if r.err != nil || (r.status != http.StatusCreated && r.status != http.StatusOK) {
				t.Fatalf("%s on %s: status %d err %v: %s", r.clientID, r.node, r.status, r.err, r.body)
			}
			byID[r.clientID] = append(byID[r.clientID], r)
		}
		for id, rs := range byID {
			created := 0
			for _, r := range rs {
				if !r.duplicate {
					created++
				}
				if r.id != rs[0].id {
					t.Errorf("%s: the instances answered with different messages %s and %s", id, rs[0].id, r.id)
				}
			}
			if created != 1 {
				t.Errorf("%s: %d of the 3 posts were stored as new, want exactly 1", id, created)
			}
		}
		counts := checkSeqs(t)
		total := 0
		for _, n := range counts {
			total += n
		}
		for i := range 20 {
			id := fmt.Sprintf("dup-%02d", i)
			if counts[id] != 1 {
				t.Errorf("%s stored %d times, want once", id, counts[id])
			}
		}
		if total != 220 {
			t.Fatalf("want 220 contact messages (200 + 20), got %d", total)
		}
	})
}
